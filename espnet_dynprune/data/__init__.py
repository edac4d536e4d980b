"""Synthetic speech from espeak-ng, so that the recipe runs without a real corpus.

Templated sentences with aligned English (sentences), espeak-ng speech (espeak) and the recipe's
embedded mini corpus in the real Europarl-ST / FLEURS layouts (mini_corpus and the modules it
builds on). OWSM data dirs, token lists and training configs are made from it by the recipe's own
stages (:mod:`espnet_dynprune.corpora`, :mod:`espnet_dynprune.zoo`, ``egs2/europarl_st/s2t1/conf``),
as from a real corpus; the OWSM formats are in :mod:`espnet_dynprune.owsm`.
"""
