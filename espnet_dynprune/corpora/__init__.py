"""Real corpora into OWSM-format data dirs and ESPnet dump dirs (recipe stages 1 to 4).

Layouts, each read into OWSM utterances: europarl_st (Europarl-ST v1.1, ASR + ST into English)
and fleurs (FLEURS, ASR + ST via the n-way parallel English), which also write their layout from
plain records (synthesis lives above, in :mod:`espnet_dynprune.data`; this package never imports
it), and voxforge (VoxForge, ASR). Shared: languages (the one language table: ISO 639-1, OWSM's
ISO 639-3, FLEURS dirs, espeak-ng voices), naming (Kaldi-safe speaker/utterance ids), checks
(corpus roots, counted skips).
CLIs: prepare (stage 1: data dirs), format_audio (stage 3: decode and cut into dump dirs;
audio_io decodes), filter_lengths (stage 4: drop train/dev utterances outside the length limits).
"""
