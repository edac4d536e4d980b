"""Stage 13 of the recipe: scoring, FLOPs counting and results tables.

Modules: scoring (WER/CER, BLEU/chrF of a decode dir), flops (fvcore GFLOPs of one
utterance under a gate pattern), score_decodes (both for every decoded test set: the
recipe's stage 13), results_table (markdown/CSV over experiments).
"""
