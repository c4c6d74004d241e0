#!/usr/bin/env bash
# A training campaign that outlives a session: resume, train for a while, export, evaluate on
# Kodak, and replace the shipped model only when it is better.
#
#   scripts/train-campaign.sh [--minutes M] [--model NAME] [--threads N] [--runs DIR] [--no-eval]
#
#   --minutes M   wall-clock budget for this stretch, evaluation included (default 60); the
#                 training stops itself early enough to export and evaluate inside it
#   --model NAME  the shipped model to improve (default lic-elic-small, the default model)
#   --arch ARCH   with a NAME that has no models/NAME.safetensors yet: start a new design from
#                 scratch with `lic train --arch ARCH` (e.g. elic-small-wavelet); its Kodak RD is
#                 then compared with --compare-to's card, and it is shipped as models/NAME.* when
#                 better
#   --compare-to M  the shipped model a new design must beat (default lic-elic-small)
#   --threads N   libtorch threads at the start (default 2). The run re-reads RUNS/threads at
#                 every log line: `echo 1 > RUNS/threads` while you compile, `echo 2` after.
#   --runs DIR    campaign folder outside git (default ../runs/campaign-NAME beside the checkout,
#                 or $LIC_RUNS/campaign-NAME)
#   --no-eval     train and checkpoint only
#   --val N       also code the first N Kodak images with real bitstreams every 500 steps (the
#                 validation curve in RUNS/train_log.jsonl; default 2, 0 = off)
#
# Start it in the background, nice'd, at the beginning of a session:
#   nohup nice -n 19 scripts/train-campaign.sh --minutes 150 > /tmp/campaign.log 2>&1 &
#
# State kept in RUNS (never in git): checkpoint.safetensors (the exact training state, resumed
# next time), train_log.jsonl, campaign.jsonl (one line per stretch: steps, CPU-hours, Kodak RD,
# BD-rate against the shipped model, whether it was promoted), export/ (the last exported model).
# The first stretch starts from the shipped weights (models/NAME.safetensors).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
minutes=60; model=lic-elic-small; threads=2; runs=""; do_eval=1; arch=""; compare=lic-elic-small; val=2
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-eval) do_eval=""; shift ;;
    --arch) arch=$2; shift 2 ;;
    --compare-to) compare=$2; shift 2 ;;
    --val) val=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$runs" ] || runs="${LIC_RUNS:-$(dirname "$root")/runs}/campaign-$model"
mkdir -p "$runs"
lic="$root/target/release/lic"
# The budget counts from here: a fresh machine's set-up and build come out of it.
start=$(date +%s)
deadline=$((start + minutes * 60))
# A fresh machine: install libtorch and the tools first (idempotent), then build.
[ -x "$lic" ] || { bash scripts/setup.sh && cargo build --release; }
card="models/$model.json"
weights="models/$model.safetensors"
if [ -f "$weights" ] && [ -f "$card" ]; then
  base_card="$card"
else
  [ -n "$arch" ] || { echo "no shipped model $model (models/$model.{json,safetensors}); give --arch to start a new design" >&2; exit 1; }
  base_card="models/$compare.json"
  [ -f "$base_card" ] || { echo "--compare-to $compare: no models/$compare.json" >&2; exit 1; }
fi
echo "$threads" > "$runs/threads"
log() { echo "[campaign $(date -u +%H:%M:%S)] $*"; }

# Training data: the shared crops where present, else the fetchable sets.
data=()
for d in ../shared/datasets/train ../shared/datasets/train2 datasets/train; do
  [ -d "$d" ] && data+=(--data "$d")
done
[ ${#data[@]} -gt 0 ] || { echo "no training data (../shared/datasets/train)" >&2; exit 1; }

# Minutes kept for export + Kodak evaluation (the ELIC model codes Kodak at 6 points in ~10 min
# on 2 free cores; walloc in ~2).
family=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['architecture']['family'])" "$base_card")
reserve=$([ -n "$do_eval" ] && { [ "$family" = elic ] && echo 20 || echo 6; } || echo 1)
train_s=$(( deadline - $(date +%s) - reserve * 60 ))
[ "$train_s" -gt 60 ] || { echo "--minutes $minutes leaves no time to train (evaluation needs ~$reserve min)" >&2; exit 1; }

ckpt="$runs/checkpoint.safetensors"
# A campaign is open-ended: a step count far beyond reach keeps the learning rate flat after the
# warm-up (the step decay at 80%/95% of --steps never comes).
steps=100000000
common=(--out "$runs" --steps "$steps" --time-limit "$train_s" --threads-file "$runs/threads" --log-every 50 --checkpoint-every 250)
if [ "$val" -gt 0 ]; then
  [ -d datasets/kodak ] || bash datasets/fetch.sh kodak
  common+=(--val datasets/kodak --val-every 500 --val-limit "$val")
fi
if [ -f "$ckpt" ]; then
  log "resuming $ckpt for $train_s s"
  "$lic" --threads "$threads" train --resume "$ckpt" "${common[@]}"
elif [ -f "$weights" ]; then
  case "$family" in
    elic) a=(--arch "${arch:-elic-small}") ;;
    walloc) a=(--arch "${arch:-walloc}") ;;
    *) echo "campaign: unknown family $family" >&2; exit 1 ;;
  esac
  log "starting from $weights ($family) for $train_s s"
  "$lic" --threads "$threads" train "${a[@]}" --init "$weights" "${data[@]}" \
    --batch 8 --crop 128 --lr 1e-4 --warmup 500 "${common[@]}"
else
  log "starting the new design $model (--arch $arch) from scratch for $train_s s"
  "$lic" --threads "$threads" train --arch "$arch" "${data[@]}" \
    --batch 8 --crop 128 --lr 1e-4 --warmup 500 "${common[@]}"
fi
[ -n "$do_eval" ] || { log "trained; --no-eval: done"; exit 0; }

# Export and evaluate on all 24 Kodak images, 6 points, through real files.
[ -d datasets/kodak ] || bash datasets/fetch.sh kodak
exp="$runs/export"
mkdir -p "$exp"
"$lic" train --export "$ckpt" --name "$model" --out "$exp" --force
ev="$exp/kodak-$model.json"
"$lic" --threads "$(cat "$runs/threads")" eval --dataset datasets/kodak --model "$exp/$model.safetensors" --points 6 -o "$ev" --force
# The shipped model's points (or, for a new design, --compare-to's), from its card.
python3 - "$base_card" "$exp/shipped-kodak.json" <<'EOF'
import json, sys
card = json.load(open(sys.argv[1]))
pts = (card.get("kodak") or {}).get("points") or []
res = {"bpp": [p["bpp"] for p in pts], "psnr-rgb": [p["psnr_rgb"] for p in pts],
       "ms-ssim": [p["ms_ssim"] for p in pts]}
json.dump({"name": card["name"] + " (shipped)", "description": "from the model card",
           "results": res}, open(sys.argv[2], "w"), indent=1)
EOF
bd=$("$lic" bdrate "$ev" "$exp/shipped-kodak.json" 2>&1 | sed -n 's/^BD-rate: \([-+0-9.]*\) %.*/\1/p' | head -1)
anchors=(anchors/kodak/vtm.json anchors/measured/kodak/avif.json anchors/measured/kodak/webp.json anchors/measured/kodak/jpeg420.json)
{
  echo "BD-rate of $model on Kodak (PSNR-RGB, pchip); negative = fewer bits than the anchor"
  for a in "${anchors[@]}"; do
    "$lic" bdrate "$ev" "$a" 2>&1 | sed "s|^|$(basename "$a" .json): |"
  done
} > "$exp/bdrate.txt"
cat "$exp/bdrate.txt"
promoted=false
if [ -n "$bd" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0 else 1)" "$bd"; then
  log "BD-rate vs the shipped $model: $bd % -> promoting the campaign weights"
  cp "$exp/$model.safetensors" "$weights"
  [ -f "$card" ] || cp "$exp/$model.json" "$card"
  # The exported card carries the cumulative training history; keep the shipped card's extras.
  python3 - "$card" "$exp/$model.json" <<'EOF'
import json, sys
old, new = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k, v in old.items():
    if k not in new or new[k] is None:
        new[k] = v
json.dump(new, open(sys.argv[1], "w"), indent=2); open(sys.argv[1], "a").write("\n")
EOF
  python3 scripts/update-card.py "$card" "$ev" "$exp/bdrate.txt"
  promoted=true
else
  log "BD-rate vs the shipped $model: ${bd:-n/a} % -> shipped model kept"
fi
# One line per stretch, in the campaign folder and (cumulative) in the card.
[ -f "$card" ] || card="$base_card"   # a new design that was not shipped: log it on the baseline's card
python3 - "$runs" "$ev" "$exp/bdrate.txt" "${bd:-null}" "$promoted" "$card" "$ckpt" <<'EOF'
import json, sys, time, struct
runs, ev, bdtxt, bd, promoted, card_path, ckpt = sys.argv[1:8]
r = json.load(open(ev))["results"]
with open(ckpt, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n)).get("__metadata__", {})
state = json.loads(meta.get("lic.train_state", "{}"))
hist = state.get("history", [])
cpu_h = sum(s["seconds"] * s.get("threads", 1) for s in hist) / 3600
rec = {"date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "run": runs, "step": state.get("step"),
       "campaign_cpu_hours": round(cpu_h, 3), "bpp": r["bpp"], "psnr_rgb": r["psnr-rgb"],
       "bd_rate_vs_shipped": None if bd == "null" else float(bd), "promoted": promoted == "true",
       "bd_rate_report": [l.strip() for l in open(bdtxt) if "BD-rate:" in l]}
open(f"{runs}/campaign.jsonl", "a").write(json.dumps(rec) + "\n")
card = json.load(open(card_path))
card.setdefault("campaign", []).append(rec)
json.dump(card, open(card_path, "w"), indent=2); open(card_path, "a").write("\n")
print(json.dumps(rec))
EOF
log "done in $(( $(date +%s) - start )) s"
