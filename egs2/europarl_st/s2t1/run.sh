#!/usr/bin/env bash
# OWSM v3.1 fine-tuning with context-aware dynamic pruning on Europarl-ST (+ FLEURS / VoxForge
# add-ons). Stage numbers follow ESPnet's egs2/TEMPLATE/s2t1/s2t.sh, so `--stage 10` means what
# ESPnet users expect. Each stage is a thin call to `python -m espnet_dynprune...` or
# `python -m espnet2.bin...`. With db.sh empty and no --pretrained_model, the recipe runs on the
# embedded mini corpus and the shipped small OWSM-architecture stand-in (standin/).
# `--pretrained_model none` trains --s2t_config from scratch instead (how local/pretrain_standin.sh
# makes the stand-in): stage 5 then trains a BPE model and stage 11 starts from random weights.
#   1    data prep (local/data.sh)            2    (speed perturbation: not used)
#   3    audio: decode, cut, 16 kHz mono      4    drop train/dev utterances > 30 s or < 0.1 s
#   5    token list (the pretrained model's)
#   6-8  static structured pruning, only with --static_prune_config (the recipe has no LM stages):
#        6 config, length check, shape stats   7 distillation-pruning (s2t_train, model: distill_prune)
#        8 export into a smaller model-zoo dir, which stages 10-13 then fine-tune, decode and score
#   10   config, length check, shape (and feature) stats
#   11   fine-tuning with pruning              12   decoding (per test set x language x task)
#   13   scoring (WER, BLEU, chrF), GFLOPs, results table
set -euo pipefail

stage=1
stop_stage=13
ngpu=0                          # >1: ESPnet DDP through espnet2.bin.launch
nj=2                            # parallel jobs for audio formatting and decoding
cmd_backend=local               # local | slurm (cmd.sh)
train_threads=""                # torch threads for CPU training (default: all cores)
# Data
europarl_st_langs="fr de it"
fleurs_langs=""                 # add-on, e.g. "hu bg"
voxforge_langs=""               # add-on, e.g. "bg"
tasks="asr st"
mini_corpus_opts=""             # without db.sh corpora: options of the mini corpus ...
mini_voxforge_opts=""           # ... and of its VoxForge part (python -m espnet_dynprune.recipe.synthetic_voxforge)
data_dir=data
dumpdir=dump
min_wav_duration=0.1
max_wav_duration=30.0
# Model
pretrained_model=standin        # model-zoo dir of a released OWSM v3.1 model (or the stand-in); none: from scratch
nbpe=300                        # BPE pieces of the token list trained with --pretrained_model none
s2t_config=conf/finetune_dynprune.yaml
s2t_exp=""                      # default: exp/s2t_<basename of s2t_config>
s2t_args=""                     # extra arguments for espnet2.bin.s2t_train
static_prune_config=""          # e.g. conf/static_prune_0.7.yaml: stages 6-8, then 10-13 on the exported model
static_exp=""                   # default: exp/<basename of static_prune_config>
# Decoding
inference_config=conf/decode_beam5.yaml
inference_tag=""                # decode dir prefix (default: basename of inference_config)
inference_gates="predicted on"  # gate patterns to decode with: predicted | on | off | <sparsity> | most_frequent
                                #   (most_frequent: the predicted decode's commonest pattern, for every utterance)
decode_pretrained=true          # also decode the pretrained model as the dense baseline
pretrained_exp=exp/pretrained   # where the pretrained model's decodes go
test_sets=""                    # default: every set in ${data_dir}/test_sets.txt

. ./utils/parse_options.sh "$@"
. ./path.sh
. ./cmd.sh

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0"):${BASH_LINENO[0]}) $*"; }
run_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

[ -n "${s2t_exp}" ] || s2t_exp="exp/s2t_$(basename "${s2t_config}" .yaml)"
[ -n "${train_threads}" ] || train_threads=$(nproc)
[ -n "${inference_tag}" ] || inference_tag=$(basename "${inference_config}" .yaml)
inference_tag="decode_${inference_tag#decode_}"   # results_table reads EXP/decode_*/
stats_dir="${s2t_exp}_stats"
token_dir="${data_dir}/token_list"
finetune_from="${pretrained_model}"     # what stages 10-11 start from: the exported model with stages 6-8
if [ -n "${static_prune_config}" ]; then
    if [ "${pretrained_model}" = none ]; then
        log "--static_prune_config prunes a pretrained model: give --pretrained_model"; exit 1
    fi
    [ -n "${static_exp}" ] || static_exp="exp/$(basename "${static_prune_config}" .yaml)"
    finetune_from="${static_exp}/zoo"
fi
if [ "${pretrained_model}" = none ]; then
    # From scratch: --s2t_config is the whole config; tokens and statistics are this run's own.
    train_config="${s2t_config}"
    bpe_dir="${token_dir}/bpe_unigram${nbpe}"
    model_args=(--token_type bpe --bpemodel "${bpe_dir}/bpe.model" --token_list "${bpe_dir}/tokens.txt")
    train_args=("${model_args[@]}" --normalize global_mvn --normalize_conf "stats_file=${stats_dir}/train/feats_stats.npz")
else
    # Fine-tuning: the pretrained network, tokens and feature statistics, plus --s2t_config.
    train_config="${s2t_exp}/finetune_config.yaml"
    model_args=()
    train_args=()
fi

if run_stage 1; then
    log "Stage 1: data preparation -> ${data_dir}"
    ./local/data.sh --data_dir "${data_dir}" --europarl_st_langs "${europarl_st_langs}" \
        --fleurs_langs "${fleurs_langs}" --voxforge_langs "${voxforge_langs}" --tasks "${tasks}" \
        --mini_corpus_opts "${mini_corpus_opts}" --mini_voxforge_opts "${mini_voxforge_opts}"
fi

[ -n "${test_sets}" ] || { [ -f "${data_dir}/test_sets.txt" ] && test_sets=$(tr '\n' ' ' < "${data_dir}/test_sets.txt"); } || true

if run_stage 2; then
    log "Stage 2: speed perturbation: not part of this recipe (OWSM fine-tuning trains without it)"
fi

if run_stage 3; then
    log "Stage 3: audio -> ${dumpdir}/raw (16 kHz mono wav; train/dev to ${dumpdir}/raw/org for stage 4)"
    for dset in train dev; do
        python -m espnet_dynprune.recipe.format_audio --in_dir "${data_dir}/${dset}" \
            --out_dir "${dumpdir}/raw/org/${dset}" --nj "${nj}" --min_duration 0 --max_duration inf
    done
    for dset in ${test_sets}; do  # stage 4 leaves test sets alone (as in s2t.sh): limits here
        python -m espnet_dynprune.recipe.format_audio --in_dir "${data_dir}/${dset}" \
            --out_dir "${dumpdir}/raw/${dset}" --nj "${nj}" \
            --min_duration "${min_wav_duration}" --max_duration "${max_wav_duration}"
    done
fi

if run_stage 4; then
    log "Stage 4: train/dev utterances of ${min_wav_duration}-${max_wav_duration} s -> ${dumpdir}/raw/{train,dev}"
    for dset in train dev; do
        python -m espnet_dynprune.recipe.filter_lengths --in_dir "${dumpdir}/raw/org/${dset}" \
            --out_dir "${dumpdir}/raw/${dset}" --min_duration "${min_wav_duration}" --max_duration "${max_wav_duration}"
    done
fi

if run_stage 5; then
    if [ "${pretrained_model}" = none ]; then
        log "Stage 5: new token list, BPE ${nbpe} on ${dumpdir}/raw/train/text -> ${bpe_dir}"
        python -m espnet_dynprune.recipe.token_list --pretrained_model none --nbpe "${nbpe}" \
            --output_dir "${token_dir}" --check_text "${dumpdir}/raw/train/text"
    else
        log "Stage 5: token list of ${pretrained_model} -> ${token_dir} (never retrained for fine-tuning)"
        python -m espnet_dynprune.recipe.token_list --pretrained_model "${pretrained_model}" \
            --output_dir "${token_dir}" --check_text "${dumpdir}/raw/train/text"
    fi
fi

# collect_stats CONFIG STATS_DIR: shape statistics (from scratch: also the feature statistics).
collect_stats() {
    local data_args
    data_args=$(python -m espnet_dynprune.recipe.data_args --train "${dumpdir}/raw/train" --valid "${dumpdir}/raw/dev")
    # shellcheck disable=SC2086
    python -m espnet2.bin.s2t_train --collect_stats true --config "$1" "${model_args[@]}" \
        --use_preprocessor true --ngpu 0 --num_workers "${nj}" ${data_args} \
        --train_shape_file "${dumpdir}/raw/train/wav.scp" --valid_shape_file "${dumpdir}/raw/dev/wav.scp" \
        --output_dir "$2"
}
# train CONFIG STATS_DIR EXP_DIR [s2t_train arguments...]: resumable ESPnet training (DDP with --ngpu > 1).
train() {
    local config=$1 stats=$2 exp=$3 data_args
    shift 3
    data_args=$(python -m espnet_dynprune.recipe.data_args --train "${dumpdir}/raw/train" --valid "${dumpdir}/raw/dev")
    mkdir -p "${exp}"
    python -m espnet_dynprune.recipe.progress --log "${exp}/train.log" --pid $$ &
    local progress=$! status=0
    # shellcheck disable=SC2086
    OMP_NUM_THREADS="${train_threads}" python -m espnet2.bin.launch --cmd "${cuda_cmd}" \
        --log "${exp}/train.log" --ngpu "${ngpu}" --num_nodes 1 \
        --init_file_prefix "${exp}/.dist_init_" --multiprocessing_distributed true -- \
        python -m espnet2.bin.s2t_train --config "${config}" --use_preprocessor true "$@" \
        ${data_args} \
        --train_shape_file "${stats}/train/speech_shape" --valid_shape_file "${stats}/valid/speech_shape" \
        --resume true --output_dir "${exp}" ${s2t_args} || status=$?
    kill -TERM "${progress}" 2>/dev/null || true
    wait "${progress}" 2>/dev/null || true
    return "${status}"
}
if [ -n "${static_prune_config}" ] && run_stage 6; then
    log "Stage 6: distillation-pruning config (${static_prune_config} on ${pretrained_model}), length check and shape stats"
    python -m espnet_dynprune.recipe.finetune_config --pretrained_model "${pretrained_model}" \
        --s2t_config "${static_prune_config}" --output "${static_exp}/prune_config.yaml" --check_weights true \
        --check_lengths_of "${dumpdir}/raw/train" "${dumpdir}/raw/dev"
    collect_stats "${static_exp}/prune_config.yaml" "${static_exp}_stats"
fi
if [ -n "${static_prune_config}" ] && run_stage 7; then
    model_file=$(python -m espnet_dynprune.recipe.model_zoo --pretrained_model "${pretrained_model}" --print model_file)
    log "Stage 7: distillation-pruning ${pretrained_model} -> ${static_exp} (teacher: ${model_file}; resumable)"
    train "${static_exp}/prune_config.yaml" "${static_exp}_stats" "${static_exp}" --init_param "${model_file}"
fi
if [ -n "${static_prune_config}" ] && run_stage 8; then
    log "Stage 8: export the last epoch's masks of ${static_exp} -> ${finetune_from} (a smaller model)"
    rm -rf "${finetune_from}"  # derived from the training run only: rebuilt, never stale
    python -m espnet_dynprune.bin.export_pruned --s2t_train_config "${static_exp}/config.yaml" \
        --s2t_model_file "${static_exp}/latest.pth" --output_dir "${finetune_from}"
fi
if run_stage 10; then
    if [ "${pretrained_model}" = none ]; then
        log "Stage 10: ${train_config} from scratch: length check and feature/shape stats"
        python -m espnet_dynprune.recipe.check_lengths --config "${train_config}" \
            --data_dirs "${dumpdir}/raw/train" "${dumpdir}/raw/dev"
    else
        log "Stage 10: fine-tuning config (${s2t_config} on ${finetune_from}), length check and shape stats"
        # Written only once its weights load and every utterance fits its speech_length.
        python -m espnet_dynprune.recipe.finetune_config --pretrained_model "${finetune_from}" \
            --s2t_config "${s2t_config}" --output "${train_config}" --check_weights true \
            --check_lengths_of "${dumpdir}/raw/train" "${dumpdir}/raw/dev"
    fi
    # Fine-tuning uses only the shape files: normalisation keeps the pretrained feats_stats.npz.
    collect_stats "${train_config}" "${stats_dir}"
fi
if run_stage 11; then
    if [ "${pretrained_model}" != none ]; then
        # Its own statement, so that a failed lookup stops the recipe (set -e) before training.
        model_file=$(python -m espnet_dynprune.recipe.model_zoo --pretrained_model "${finetune_from}" --print model_file)
        train_args=(--init_param "${model_file}")
    fi
    log "Stage 11: training ${train_config} -> ${s2t_exp} (ngpu=${ngpu}, resumable)"
    train "${train_config}" "${stats_dir}" "${s2t_exp}" "${train_args[@]}"
fi
# decode_one MODEL_CONFIG MODEL_FILE DECODE_ROOT GATES: every test set, resumable. Job J of the
# nj-job array decodes shard J of every set (ESPnet and the model load once per job).
# Language and task come from each test set's text (one language x task per set).
decode_one() {
    local dset data_dirs=() out_dirs=()
    for dset in ${test_sets}; do
        data_dirs+=("${dumpdir}/raw/${dset}") out_dirs+=("$3/${dset}")
    done
    mkdir -p "$3/logdir"
    local args=(--config "${inference_config}" --data_dir "${data_dirs[@]}" --output_dir "${out_dirs[@]}"
                --s2t_train_config "$1" --s2t_model_file "$2" --gates "$4" --nj "${nj}")
    ${decode_cmd} JOB=1:"${nj}" "$3/logdir/decode.JOB.log" python -m espnet_dynprune.recipe.decode "${args[@]}" --job JOB
    python -m espnet_dynprune.recipe.decode "${args[@]}" --merge true
}

if run_stage 12; then
    for gates in ${inference_gates}; do
        log "Stage 12: decoding ${s2t_exp} with gates=${gates}"
        gate_spec="${gates}"
        if [ "${gates}" = most_frequent ]; then  # needs the predicted decode (list predicted first)
            gate_spec="${s2t_exp}/most_frequent_gates.json"
            python -m espnet_dynprune.recipe.gate_patterns --write_most_frequent "${gate_spec}" \
                --decode_root "${s2t_exp}/${inference_tag}_gates_predicted"
        fi
        decode_one "${s2t_exp}/config.yaml" "${s2t_exp}/valid.acc.ave.pth" \
            "${s2t_exp}/${inference_tag}_gates_${gates}" "${gate_spec}"
    done
    if [ "${decode_pretrained}" = true ]; then
        log "Stage 12: decoding the pretrained model ${pretrained_model} (dense baseline)"
        pretrained_file=$(python -m espnet_dynprune.recipe.model_zoo --pretrained_model "${pretrained_model}" \
            --write_config "${pretrained_exp}/config.yaml" --print model_file)
        decode_one "${pretrained_exp}/config.yaml" "${pretrained_file}" \
            "${pretrained_exp}/${inference_tag}_gates_on" on
    fi
    if [ -n "${static_prune_config}" ]; then
        log "Stage 12: decoding the exported model ${finetune_from} (statically pruned, before fine-tuning)"
        static_file=$(python -m espnet_dynprune.recipe.model_zoo --pretrained_model "${finetune_from}" \
            --write_config "${static_exp}/zoo_config.yaml" --print model_file)
        decode_one "${static_exp}/zoo_config.yaml" "${static_file}" "${static_exp}/${inference_tag}_gates_on" on
    fi
fi

if run_stage 13; then
    log "Stage 13: scoring, GFLOPs and results tables"
    # Every decoded test set gets result.json and flops.json (task, language and references from
    # its decode_summary.json); one process, each model loaded once.
    exp_dirs=()
    for exp in "${s2t_exp}" "${pretrained_exp}" ${static_exp:+"${static_exp}"}; do
        [[ " ${exp_dirs[*]} " == *" ${exp} "* ]] || exp_dirs+=("${exp}")
    done
    decode_roots=()
    for exp in "${exp_dirs[@]}"; do
        decode_roots+=("${exp}/${inference_tag}"_gates_*)
    done
    # shellcheck disable=SC2086
    python -m espnet_dynprune.recipe.score_decodes ${test_sets:+--test_sets ${test_sets}} \
        --decode_roots "${decode_roots[@]}"
    python -m espnet_dynprune.recipe.results_table --exp_dirs "${exp_dirs[@]}" --output_dir exp/results
fi
log "Finished stages ${stage}-${stop_stage}"
