"""Synthetic OWSM-format corpora (espeak-ng speech) and a tiny ESPnet training harness.

Modules: sentences (templated text), espeak (speech), owsm_datadir (Kaldi data dirs),
token_list (sentencepiece + OWSM tokens.txt), tiny_corpus (CLI gluing them), tiny_training
(config writer and ESPnet s2t_train / Speech2Text runners).
"""
