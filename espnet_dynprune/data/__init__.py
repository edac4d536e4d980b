"""Synthetic OWSM-format corpora (espeak-ng speech) and a tiny ESPnet training harness.

Modules: sentences (templated text), espeak (speech), mini_corpus (the recipe's embedded corpus,
written in the real layouts by the writers of :mod:`espnet_dynprune.corpora`), token_list
(sentencepiece + OWSM tokens.txt), s2t_config, and tiny_corpus / tiny_training (OWSM data dirs
written directly and ESPnet s2t_train / Speech2Text runners: the tests' fast fixture). The OWSM
formats themselves (symbols, token-list layout, Kaldi data dirs) are in :mod:`espnet_dynprune.owsm`.
"""
