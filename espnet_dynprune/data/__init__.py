"""Synthetic OWSM-format corpora (espeak-ng speech) and a tiny ESPnet training harness.

Modules: sentences (templated text), espeak (speech), europarl_st_layout / fleurs_layout and
mini_corpus (the recipe's embedded corpus in the real layouts), owsm_datadir (Kaldi data dirs),
token_list (sentencepiece + OWSM tokens.txt), s2t_config, and tiny_corpus / tiny_training (OWSM
data dirs written directly and ESPnet s2t_train / Speech2Text runners: the tests' fast fixture).
"""
