#!/usr/bin/env bash
# Stage 1: corpus layouts -> OWSM-format Kaldi data dirs (data/train, data/dev, data/test_*).
# With db.sh all empty, first generates the embedded mini corpus (espeak-ng) in its real layouts.
set -euo pipefail

europarl_st_langs="fr de it"   # Europarl-ST source languages (target: en)
fleurs_langs=""                # FLEURS add-on, e.g. "hu bg"
voxforge_langs=""              # VoxForge add-on (ASR only), e.g. "bg"
tasks="asr st"                 # asr and/or st (speech translation to English)
data_dir=data
mini_corpus_dir=downloads/mini
mini_corpus_opts=""            # extra options of python -m espnet_dynprune.recipe.mini_corpus
mini_voxforge_opts=""          # extra options of python -m espnet_dynprune.recipe.synthetic_voxforge

. ./db.sh
. ./path.sh
. ./utils/parse_options.sh "$@"

csv() { echo "$1" | tr -s ' ' ',' | sed 's/^,//; s/,$//'; }

if [ -z "${EUROPARL_ST}${FLEURS}${VOXFORGE}" ]; then
    echo "db.sh sets no corpus: using the embedded mini corpus in ${mini_corpus_dir}"
    # All of its languages, whatever is prepared below: one corpus serves the stand-in's
    # pretraining (all languages) and the fine-tuning runs (resumed, not regenerated).
    # shellcheck disable=SC2086
    python -m espnet_dynprune.recipe.mini_corpus --out "${mini_corpus_dir}" ${mini_corpus_opts}
    EUROPARL_ST="${mini_corpus_dir}/europarl_st/v1.1"
    FLEURS="${mini_corpus_dir}/fleurs"
    if [ -n "${voxforge_langs}" ]; then
        # Its VoxForge part: other voices reading training sentences (regenerated with the corpus).
        # shellcheck disable=SC2086
        python -m espnet_dynprune.recipe.synthetic_voxforge --corpus "${mini_corpus_dir}" \
            --langs "$(csv "${voxforge_langs}")" ${mini_voxforge_opts}
        VOXFORGE="${mini_corpus_dir}/voxforge"
    fi
fi

# root_for LANGS VARIABLE: the corpus root when its languages are requested, else "" (corpus off).
root_for() {
    [ -z "$1" ] && return 0
    if [ -z "${!2}" ]; then
        echo "$0: languages '$1' requested but $2 is empty in db.sh (set it, or empty all db.sh roots for the mini corpus)" >&2
        exit 1
    fi
    echo "${!2}"
}
epst_root=$(root_for "${europarl_st_langs}" EUROPARL_ST)
fleurs_root=$(root_for "${fleurs_langs}" FLEURS)
voxforge_root=$(root_for "${voxforge_langs}" VOXFORGE)

python -m espnet_dynprune.recipe.prepare_data --out_dir "${data_dir}" --tasks "$(csv "${tasks}")" \
    --europarl_st "${epst_root}" --europarl_st_langs "$(csv "${europarl_st_langs}")" \
    --fleurs "${fleurs_root}" --fleurs_langs "$(csv "${fleurs_langs}")" \
    --voxforge "${voxforge_root}" --voxforge_langs "$(csv "${voxforge_langs}")"
