"""The ``--{train,valid}_data_path_and_name_and_type`` arguments of ``espnet2.bin.s2t_train``.

Why one place: the four streams OWSM trains on (speech, text, text.prev, text.ctc, as s2t.sh's
``utt_extra_files``) must be named identically for stats collection, training and the tests. The
CLI prints them for run.sh: ``$(python -m espnet_dynprune.recipe.data_args --train D --valid D)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence, Union

#: (file in the data dir, data name, loader type), as s2t.sh passes them.
STREAMS = (("wav.scp", "speech", "sound"), ("text", "text", "text"), ("text.prev", "text_prev", "text"),
           ("text.ctc", "text_ctc", "text"))  # fmt: skip


def data_args(prefix: str, data_dir: Union[str, Path]) -> List[str]:
    """``--{prefix}_data_path_and_name_and_type path,name,type`` for each stream; checks the files."""
    args: List[str] = []
    for fname, name, kind in STREAMS:
        path = Path(data_dir) / fname
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {data_dir} is not an OWSM-format data dir")
        args += [f"--{prefix}_data_path_and_name_and_type", f"{path},{name},{kind}"]
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="training data dir")
    parser.add_argument("--valid", type=Path, required=True, help="validation data dir")
    args = parser.parse_args(argv)
    print(" ".join(data_args("train", args.train) + data_args("valid", args.valid)))


if __name__ == "__main__":
    main()
