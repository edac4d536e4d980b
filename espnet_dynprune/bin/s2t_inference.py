"""``python -m espnet_dynprune.bin.s2t_inference``: ESPnet's S2T decoding, dynprune aware.

Same arguments as ``python -m espnet2.bin.s2t_inference``; ``--lang_sym`` and
``--task_sym`` also reach the encoder's gate predictor.
"""

from espnet_dynprune.registration import install_speech2text, register_s2t


def main(cmd=None) -> None:
    register_s2t()
    install_speech2text()
    from espnet2.bin.s2t_inference import main as espnet_main

    espnet_main(cmd)


if __name__ == "__main__":
    main()
