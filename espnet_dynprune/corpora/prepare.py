"""Recipe stage 1: read the chosen corpora into OWSM-format Kaldi data dirs.

Writes under ``--out_dir``: ``train`` and ``dev`` (all corpora, languages and tasks together),
one ``test_{corpus}_{lang}_{task}`` dir per corpus, language and task (``test_epst_fra_st_eng``,
``test_fleurs_hun_asr``, ``test_voxforge_bul_asr``, ``test_asterisk_ita_st_eng``), and
``test_sets.txt`` naming those test dirs, one per line, for the decoding stage to loop over. An
empty corpus root switches that corpus off; at least one is required. Audio is only looked up here; stage 3 (format_audio) decodes it.

Usage::

    python -m espnet_dynprune.recipe.prepare_data --out_dir data --europarl_st /db/v1.1 \\
        --europarl_st_langs fr,de,it --tasks asr,st --fleurs /db/fleurs --fleurs_langs hu,bg
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Union

from espnet_dynprune.corpora.asterisk import CORPUS as ASTERISK, read_asterisk
from espnet_dynprune.corpora.europarl_st import CORPUS as EPST, read_europarl_st
from espnet_dynprune.corpora.fleurs import CORPUS as FLEURS, read_fleurs
from espnet_dynprune.corpora.languages import parse_langs
from espnet_dynprune.corpora.naming import name_test_set, parse_tasks
from espnet_dynprune.corpora.voxforge import CORPUS as VOXFORGE, read_voxforge
from espnet_dynprune.owsm.datadir import Utterance, write_datadir

logger = logging.getLogger(__name__)

TEST_SETS_FILE = "test_sets.txt"


def prepare(
    out_dir: Union[str, Path] = "data",
    europarl_st: str = "",
    europarl_st_langs: str = "fr,de,it",
    tasks: str = "asr,st",
    fleurs: str = "",
    fleurs_langs: str = "hu,bg",
    voxforge: str = "",
    voxforge_langs: str = "bg",
    voxforge_dev_fraction: float = 0.05,
    voxforge_test_fraction: float = 0.05,
    asterisk: str = "",
    asterisk_langs: str = "en,es,fr,it,ru",
    asterisk_voices: str = "",
) -> Dict[str, Path]:
    """Write the data dirs; return ``name -> dir`` (``train``, ``dev``, then the test sets).

    ``tasks`` (``asr``, ``st``) applies to Europarl-ST, FLEURS and the Asterisk prompts; VoxForge
    is ASR only.
    """
    task_list = parse_tasks(tasks)
    # bash reads a db.sh saved with CRLF line ends as "<root>\r", and an empty entry as "\r"
    europarl_st, fleurs, voxforge, asterisk = (root.strip() for root in (europarl_st, fleurs, voxforge, asterisk))
    corpora: Dict[str, Dict[str, List[Utterance]]] = {}
    if europarl_st:
        epst_langs = parse_langs(europarl_st_langs, "--europarl_st_langs")
        corpora[EPST] = read_europarl_st(europarl_st, epst_langs, task_list)
    if fleurs:
        corpora[FLEURS] = read_fleurs(fleurs, parse_langs(fleurs_langs, "--fleurs_langs"), task_list)
    if voxforge:
        vox_langs = parse_langs(voxforge_langs, "--voxforge_langs")
        corpora[VOXFORGE] = read_voxforge(voxforge, vox_langs, voxforge_dev_fraction, voxforge_test_fraction)
    if asterisk:
        voices = [v.strip() for v in asterisk_voices.split(",") if v.strip()]
        corpora[ASTERISK] = read_asterisk(asterisk, parse_langs(asterisk_langs, "--asterisk_langs"), task_list, voices)
    if not corpora:
        raise ValueError("no corpus chosen: give at least one of --europarl_st, --fleurs, --voxforge, --asterisk")

    sets: Dict[str, List[Utterance]] = {"train": [], "dev": []}
    tests: Dict[str, List[Utterance]] = defaultdict(list)
    for corpus, splits in corpora.items():
        sets["train"] += splits["train"]
        sets["dev"] += splits["dev"]
        for utt in splits["test"]:
            tests[name_test_set(corpus, utt.lang, utt.task)].append(utt)
    sets.update((name, tests[name]) for name in sorted(tests))

    out = Path(out_dir)
    written: Dict[str, Path] = {}
    for name, utts in sets.items():
        if not utts:
            raise ValueError(f"no utterances for {out / name} from {', '.join(corpora)}; see the skip counts above")
        written[name] = write_datadir(out / name, utts)
        logger.info("%s: %d utterances, %d speakers", out / name, len(utts), len({u.speaker for u in utts}))
    (out / TEST_SETS_FILE).write_text("".join(f"{name}\n" for name in sorted(tests)), encoding="utf-8")
    return written
