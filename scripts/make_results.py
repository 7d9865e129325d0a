#!/usr/bin/env python3
"""Regenerate the Omniglot table of docs/RESULTS.md from the run folders, so that it cannot drift
from the runs.

Reads, for each of the paper's four Omniglot settings, runs/NAME/run.json (flags, command, training
time, machines), runs/NAME/evaluation-nontransductive.json and runs/NAME/evaluation-transductive.json
(written by `reptile evaluate omniglot --checkpoint runs/NAME --eval-samples 10000 [--transductive]
--output FILE`), and writes the part of docs/RESULTS.md between its `omniglot-table` markers.
A run still training, or not yet evaluated, is shown as such.

Writes, between the `study` markers, the gradient-combination study's progress and its curves'
mean single-task test accuracy over their first and last 2 000 meta-iterations, from
runs/gradient-combinations/study.json and curves/*/{accuracy.txt, model.safetensors} (the
accuracies up to each curve's checkpointed meta-iteration).

Also writes, between the `omniglot-runs` markers, the error rates of the model meta-trained on the
background alphabets (runs/omniglot-alphabets-20way-1shot/) on Lake et al.'s 20 one-shot runs, from
its evaluation-runs.json (written by `reptile evaluate omniglot-runs --checkpoint
runs/omniglot-alphabets-20way-1shot --json`), beside people's and Bayesian Program Learning's.

    python3 scripts/make_results.py            # rewrite docs/RESULTS.md
    python3 scripts/make_results.py --check    # exit 1 if docs/RESULTS.md is not up to date
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- omniglot-table:begin -->", "<!-- omniglot-table:end -->"
RUNS_BEGIN, RUNS_END = "<!-- omniglot-runs:begin -->", "<!-- omniglot-runs:end -->"
ALPHABETS_RUN = "omniglot-alphabets-20way-1shot"
STUDY_BEGIN, STUDY_END = "<!-- study:begin -->", "<!-- study:end -->"
STUDY_RUN = "gradient-combinations"
STUDY_WINDOW = 2000
# How fast a curve learns: the first block of this many meta-iterations whose mean reaches STUDY_LEVEL.
STUDY_BLOCK, STUDY_LEVEL = 1000, 0.9

# The paper's Table 1 (Reptile rows) and the reference README's flags for each setting.
SETTINGS = [
    ("omniglot-5way-1shot", "5-way 1-shot", (95.39, 0.09), (97.68, 0.04),
     "--shots 1 --train-shots 10 --inner-batch 10 --inner-iters 5 --meta-step 1 --meta-step-final 0 "
     "--meta-batch 5 --meta-iters 100000 --eval-batch 5 --eval-iters 50 --learning-rate 0.001"),
    ("omniglot-5way-5shot", "5-way 5-shot", (98.90, 0.10), (99.48, 0.06),
     "--train-shots 10 --inner-batch 10 --inner-iters 5 --meta-step 1 --meta-step-final 0 "
     "--meta-batch 5 --meta-iters 100000 --eval-batch 5 --eval-iters 50 --learning-rate 0.001"),
    ("omniglot-20way-1shot", "20-way 1-shot", (88.14, 0.15), (89.43, 0.14),
     "--shots 1 --classes 20 --train-shots 10 --inner-batch 20 --inner-iters 10 --meta-step 1 --meta-step-final 0 "
     "--meta-batch 5 --meta-iters 200000 --eval-batch 10 --eval-iters 50 --learning-rate 0.0005"),
    ("omniglot-20way-5shot", "20-way 5-shot", (96.65, 0.33), (97.12, 0.32),
     "--classes 20 --train-shots 10 --inner-batch 20 --inner-iters 10 --meta-step 1 --meta-step-final 0 "
     "--meta-batch 5 --meta-iters 200000 --eval-batch 10 --eval-iters 50 --learning-rate 0.0005"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def duration(seconds):
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def cell(evaluation, record):
    if record is None:
        return "not started"
    done, total = record["iteration"], record["options"]["metaIters"]
    if done < total:
        return f"training: {done:,} of {total:,} meta-iterations".replace(",", " ")
    if evaluation is None:
        return "trained, not yet evaluated"
    return (f"**{100 * evaluation['test_accuracy']:.2f} ± {100 * evaluation['test_ci95']:.2f} %** "
            f"({evaluation['eval_samples']} tasks; train {100 * evaluation['train_accuracy']:.2f} %)")


def command_of(record):
    words = record["command"].split()
    return " ".join(["reptile"] + words[1:]) if words else ""


def table(runs_dir):
    lines = [BEGIN, "",
             "| setting | paper | this project | paper + transduction | this project + transduction |",
             "| --- | --- | --- | --- | --- |"]
    details = []
    for name, label, paper, paper_t, flags in SETTINGS:
        folder = os.path.join(runs_dir, name)
        record = load(os.path.join(folder, "run.json"))
        plain = load(os.path.join(folder, "evaluation-nontransductive.json"))
        trans = load(os.path.join(folder, "evaluation-transductive.json"))
        lines.append(f"| {label} | {paper[0]:.2f} ± {paper[1]:.2f} % | {cell(plain, record)} | "
                     f"{paper_t[0]:.2f} ± {paper_t[1]:.2f} % | {cell(trans, record)} |")
        details.append(f"**{label}** (`runs/{name}/`)")
        details.append("")
        if record is None:
            details.append(f"Not started. Command: `reptile train omniglot {flags} --checkpoint runs/{name}`")
            details.append("")
            continue
        machines = ", ".join(record.get("machines") or ["a machine not recorded (the run started before run.json named machines)"])
        details.append(f"- command: `{command_of(record)}`")
        done, total = (f"{n:,}".replace(",", " ") for n in (record["iteration"], record["options"]["metaIters"]))
        details.append(f"- meta-training: {done} of {total} meta-iterations, "
                       f"{duration(record['trainingSeconds'])} of wall time on {machines}")
        for mode, evaluation in (("non-transductive", plain), ("transductive", trans)):
            if evaluation:
                details.append(f"- evaluation, {mode}: {evaluation['eval_samples']} tasks per split in "
                               f"{duration(evaluation['seconds'])} on {evaluation.get('machine', 'an unrecorded machine')}")
        if os.path.exists(os.path.join(folder, "curve.svg")):
            details.append(f"- learning curve: [runs/{name}/curve.svg](../runs/{name}/curve.svg)")
        details.append("")
    lines += ["", "Percentages: accuracy on the 423 test characters ± the 95 % confidence interval over tasks.", ""]
    lines += details
    lines.append(END)
    return "\n".join(lines)


def one_shot_runs(runs_dir):
    folder = os.path.join(runs_dir, ALPHABETS_RUN)
    record = load(os.path.join(folder, "run.json"))
    result = load(os.path.join(folder, "evaluation-runs.json"))
    lines = [RUNS_BEGIN, ""]
    if record is None or result is None:
        lines += [f"Not yet evaluated: `reptile evaluate omniglot-runs --checkpoint runs/{ALPHABETS_RUN} --json "
                  f"> runs/{ALPHABETS_RUN}/evaluation-runs.json`.", "", RUNS_END]
        return "\n".join(lines)
    done, total = (f"{n:,}".replace(",", " ") for n in (record["iteration"], record["options"]["metaIters"]))
    lines += ["| | error rate | with transduction |", "| --- | --- | --- |",
              f"| people (Lake et al. 2015) | {100 * result['people_error_rate']:.1f} % | |",
              f"| Bayesian Program Learning (Lake et al. 2015) | {100 * result['bpl_error_rate']:.1f} % | |",
              f"| Reptile, this project ({done} meta-iterations on the background alphabets) | "
              f"**{100 * result['error_rate']:.1f} %** | **{100 * result['error_rate_transductive']:.1f} %** |", "",
              "Per run (errors of 20, without / with transduction): " + ", ".join(
                  f"{r['name']} {r['errors']}/{r['errors_transductive']}" for r in result["runs"]) + ".", "",
              f"- meta-training: `{command_of(record)}`, {done} of {total} meta-iterations, "
              f"{duration(record['trainingSeconds'])} of wall time on "
              + ", ".join(record.get("machines") or ["an unrecorded machine"]),
              f"- evaluation: `reptile evaluate omniglot-runs --checkpoint runs/{ALPHABETS_RUN} --json` "
              f"({result['adaptation_steps']} adaptation steps per run) on {result.get('machine') or 'an unrecorded machine'}",
              f"- learning curve: [runs/{ALPHABETS_RUN}/curve.svg](../runs/{ALPHABETS_RUN}/curve.svg)", "", RUNS_END]
    return "\n".join(lines)


def spaced(n):
    """An integer with thin spaces between thousands, as the rest of the file writes them."""
    return f"{n:,}".replace(",", " ")


def study_labels(max_steps):
    """The study's combinations in the order of its curve folders (GradientCombinationStudy.combinations)."""
    labels = ["g1"]
    for k in range(2, max(2, max_steps) + 1):
        labels += ["+".join(f"g{i}" for i in range(1, k + 1)), f"mean(g1..g{k})", f"g{k}"]
    return labels


def checkpoint_iteration(path):
    """The `iteration` in a safetensors file's metadata (the position its accuracies count up to)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    return int(header.get("__metadata__", {}).get("iteration", 0))


def study(runs_dir):
    folder = os.path.join(runs_dir, STUDY_RUN)
    settings = load(os.path.join(folder, "study.json"))
    lines = [STUDY_BEGIN, ""]
    if settings is None:
        lines += ["Not started: `reptile study gradient-combinations --out runs/gradient-combinations`.", "", STUDY_END]
        return "\n".join(lines)
    total = settings["metaIterations"]
    w = STUDY_WINDOW
    rows, done_all = [], 0
    for index, label in enumerate(study_labels(settings["maxInnerSteps"])):
        name = "".join(c if c.isalnum() else "_" for c in label)
        curve = os.path.join(folder, "curves", f"{index}-{name}")
        if not os.path.exists(os.path.join(curve, "model.safetensors")):
            rows.append(f"| {label} | not started | | | | |")
            continue
        done = checkpoint_iteration(os.path.join(curve, "model.safetensors"))
        with open(os.path.join(curve, "accuracy.txt")) as f:
            accuracies = [float(x) for x in f.read().split()][:done]
        done_all += done
        if done < 2 * w:
            rows.append(f"| {label} | {spaced(done)} | | | | |")
            continue
        first = 100 * sum(accuracies[:w]) / w
        last = 100 * sum(accuracies[-w:]) / w
        b = STUDY_BLOCK
        reached = next((end for end in range(b, done + 1, b) if sum(accuracies[end - b:end]) / b >= STUDY_LEVEL), None)
        reached_text = spaced(reached) if reached else ("not yet" if done < total else "never")
        rows.append(f"| {label} | {spaced(done)} | {first:.1f} % | {last:.1f} % | {last - first:+.1f} | {reached_text} |")
    count = len(study_labels(settings["maxInnerSteps"]))
    state = ("complete" if done_all == count * total
             else f"in progress: {spaced(done_all)} of {spaced(count * total)} meta-iterations")
    loss = settings.get("lossReduction", "mean")
    lines += [f"The study in `runs/{STUDY_RUN}/` ({state}; {spaced(total)} meta-iterations per curve, the {loss} of "
              f"the batch's losses, seed {settings['seed']}). Mean single-task test accuracy over each curve's first "
              f"and last {spaced(w)} meta-iterations ({spaced(5 * w)} queries each; about ±1 point is noise), and the "
              f"end of the first block of {spaced(STUDY_BLOCK)} meta-iterations whose mean reached {100 * STUDY_LEVEL:.0f} %:",
              "", f"| meta-gradient | meta-iterations done | first {spaced(w)} | last {spaced(w)} | change | {100 * STUDY_LEVEL:.0f} % reached after |",
              "| --- | --- | --- | --- | --- | --- |"] + rows + ["", STUDY_END]
    return "\n".join(lines)


def replace_between(text, begin, end, body, path):
    if begin not in text or end not in text:
        sys.exit(f"{path}: no {begin} … {end} markers")
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + body + text[stop:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs"))
    parser.add_argument("--results", default=os.path.join(ROOT, "docs", "RESULTS.md"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    args = parser.parse_args()
    with open(args.results) as f:
        text = f.read()
    updated = replace_between(text, BEGIN, END, table(args.runs), args.results)
    updated = replace_between(updated, RUNS_BEGIN, RUNS_END, one_shot_runs(args.runs), args.results)
    updated = replace_between(updated, STUDY_BEGIN, STUDY_END, study(args.runs), args.results)
    if args.check:
        if updated != text:
            sys.exit(f"{args.results} is out of date: run python3 scripts/make_results.py")
        return
    with open(args.results, "w") as f:
        f.write(updated)


if __name__ == "__main__":
    main()
