# Corpus roots (sourced by local/data.sh), as in ESPnet's egs2/*/db.sh.
# Leave ALL of them empty to run on the embedded mini corpus, which local/data.sh generates with
# espeak-ng in the same layouts under downloads/mini.
EUROPARL_ST=   # Europarl-ST v1.1 root: contains fr/ de/ it/ ... each with audios/ and en/{train,dev,test}/
FLEURS=        # google/fleurs with audio extracted: contains hu_hu/ bg_bg/ en_us/ ... each with {split}.tsv, audio/{split}/
VOXFORGE=      # VoxForge: contains {lang}/extracted/{session}/{etc,wav|flac}/
