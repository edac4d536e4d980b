"""The egs2/europarl_st/s2t1 recipe's stages as ``python -m espnet_dynprune.recipe.<stage>``."""
