"""Decoding: ESPnet's ``Speech2Text`` told the language and task, beam search over several
utterances, batched decoding, reduced precision per part, waveform checks, Whisper's search rules."""
