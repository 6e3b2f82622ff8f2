"""Renders the benchmark results (the JSON dict) as Markdown tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bench.detectors import DETECTORS

DETECTOR_NAMES = {"scram": "SCRAM", "paper_rules": "Paper rules (Table 1)", "nan_only": "NaN-only (TerminateOnNaN)"}


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table ("|" in cells escaped)."""
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def machine_section(machine: dict) -> str:
    """One paragraph: cores, CPU, memory, OS, date, versions, commit."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return (f"Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB RAM, "
            f"{machine['os']}. Date: {machine['date']}. Python {machine['python']}; {versions}. "
            f"Commit {machine['commit']} (plus uncommitted work, if any).")


def _outcome_cell(scenario: dict, detector: str) -> str:
    result = scenario["detectors"][detector]
    off = result["off_target"]
    if scenario["kind"] == "healthy":
        return "quiet" if not off else "⚠ " + ", ".join(off)
    if result["detected"]:
        first = result["first"]
        unit = "ep" if scenario["unit"] == "epoch" else "step"
        delay = "" if result["delay"] is None else f" ({result['delay']:+d} {unit})"
        text = f"✔ {first['check']}{delay}"
    else:
        text = "✘"
    also = result["tolerated_raised"]
    return text + (f"; also: {', '.join(also)}" if also else "") + (f"; off-target: {', '.join(off)}" if off else "")


def zoo_section(zoo: dict) -> str:
    """Overall scores, targets, per-scenario outcomes, check coverage and the scenario list."""
    parts = ["## Fault zoo: detection quality", "",
             f"{len(zoo['scenarios'])} scenarios, each trained once with the three detectors on the same fit() "
             f"({zoo['seconds']:.0f} s). Recall: faulty scenarios where an expected check was raised as a "
             "warning or error. Off-target: warnings/errors that are neither expected nor a tolerated "
             "consequence (on healthy scenarios, healthy jobs and the fixed twins of faulty ones: any). "
             "Precision: correct (scenario, check) alarms over correct and false ones. Delay: steps (epochs "
             "for epoch-kind faults) from the fault's onset to the first correct alarm; negative = before the "
             "symptom. 'also': tolerated consequences that were raised too.", ""]
    parts += [table(
        ["detector", "recall", "precision", "healthy with false alarms", "faulty with off-target alarms",
         "median delay (steps)", "median delay (epochs)"],
        [[DETECTOR_NAMES[s["detector"]], f"{s['detected']}/{s['faulty']} = {s['recall']:.2f}", _precision(s),
          f"{len(s['healthy_with_alarms'])}/{s['healthy']}", f"{len(s['faulty_with_off_target'])}/{s['faulty']}",
          _num(s["median_delay_steps"], 1), _num(s["median_delay_epochs"], 1)] for s in zoo["summary"]],
    ), "", "### Targets (issue 5)", ""]
    names = [t["name"] for t in zoo["targets"]["scram"]]
    parts += [table(["target", *(DETECTOR_NAMES[d] for d in DETECTORS)], [
        [name, *(_target_cell(zoo["targets"][d][i]) for d in DETECTORS)] for i, name in enumerate(names)
    ]), "", "### Per scenario", ""]
    parts += [table(["scenario", "kind", "onset", *(DETECTOR_NAMES[d] for d in DETECTORS)], [
        [s["name"], s["kind"], "–" if s["onset"] is None else f"{s['unit']} {s['onset']}",
         *(_outcome_cell(s, d) for d in DETECTORS)] for s in zoo["scenarios"]
    ]), "", "### Check coverage (SCRAM)", ""]
    parts += [table(["check", "implemented", "expected in", "recall: raised there", "false alarms in",
                     "precision"], [
        [c["check"], "yes" if c["implemented"] else "no", ", ".join(c["scenarios"]) or "–",
         f"{len(c['raised_in'])}/{len(c['scenarios'])}", ", ".join(c.get("false_in", ())) or "–",
         _precision(c)]
        for c in zoo["coverage"]
    ]), "", "### Scenarios", ""]
    parts += [table(["scenario", "group", "what it is", "expected (any counts)", "tolerated", "s"], [
        [s["name"], s["group"], s["description"], ", ".join(s["expected"]) or "(healthy)",
         ", ".join(s["tolerated"]) or "–", f"{s['seconds']:.1f}"] for s in zoo["scenarios"]
    ])]
    notes = [f"- {s['name']}: " + "; ".join(filter(None, [s["error"], *s["notes"]]))
             for s in zoo["scenarios"] if s["error"] or s["notes"]]
    notes += [f"- {s['name']}: not run, written for {', '.join(s['backends'])} only" for s in zoo.get("not_run", ())]
    if notes:
        parts += ["", "Notes:", "", *notes]
    return "\n".join(parts)


def _precision(scores: dict) -> str:
    """`correct/raised = share`, or – when nothing was raised (or the results predate precision)."""
    correct = scores.get("correct_alarms", len(scores.get("raised_in", ())))
    false = scores.get("false_alarms", len(scores.get("false_in", ())))
    if scores.get("precision") is None:
        return "–"
    return f"{correct}/{correct + false} = {scores['precision']:.2f}"


def _target_cell(target: dict) -> str:
    return ("✔ " if target["met"] else "✘ ") + target["detail"]


def overhead_section(overhead: dict) -> str:
    """Per workload: median times and paired ratios against plain fit()."""
    parts = ["## Overhead", "",
             "Interleaved repeats of each fit (their number is given per workload), each on a "
             "fresh model (so graph tracing counts in the total); 'steady' leaves out the first epoch. "
             "Ratios are paired: each repeat's time over plain fit()'s in the same repeat, median over repeats "
             "(quartiles in brackets). Net: the total less the time Keras spends on the data iterators "
             "between epochs, where no callback runs but TensorFlow's `tf.data` waits 0 to ~1 s at random for "
             "its autotuning thread when an iterator is dropped (median of that wait per fit in the last "
             "column). CPU: the same for process CPU time (steadier under load, but it "
             "understates serial costs). SCRAM's own: the share of the fit's wall time SCRAM's hooks "
             f"measured themselves ({overhead['seconds']:.0f} s in all)."]
    if overhead.get("step_aftereffect"):
        parts += ["", aftereffect_paragraph(overhead["step_aftereffect"])]
    if overhead.get("one_off"):
        parts += ["", one_off_paragraph(overhead["one_off"])]
    for w in overhead["workloads"]:
        epochs = w.get("epochs", overhead.get("epochs"))
        repeats = w.get("repeats", overhead.get("repeats"))
        parts += ["", f"### {w['workload']}: {w['description']}, {epochs} epochs, {w['steps_per_fit']} steps "
                  f"per fit, {repeats} repeats", ""]
        parts += [table(["configuration", "median total (s)", "ratio total", "ratio net", "CPU total",
                         "median steady (s)", "ratio steady", "CPU steady", "SCRAM's own", "data wait (s)"], [
            [name, f"{c['median_total_s']:.2f}", _ratio(c, "total"), _ratio(c, "net"), _ratio(c, "cpu_total"),
             f"{c['median_steady_s']:.2f}", _ratio(c, "steady"), _ratio(c, "cpu_steady"),
             f"{c['scram_own_share']:.1%}" if c.get("scram_own_share") else "–",
             _num(c.get("median_data_wait_s"))] for name, c in w["configs"].items()
        ])]
        if "ratio_total_ci95" in w["configs"].get("scram", {}):
            parts += ["", _interval_sentence(w["configs"]["scram"])]
    return "\n".join(parts)


def one_off_paragraph(one_off: dict) -> str:
    """SCRAM's fixed cost per fit() and its cost per step, from its own time at two fit lengths."""
    long, short = one_off["workloads"]
    steps, own = one_off["steps"], one_off["own_s"]
    return (f"SCRAM's cost once per fit(): {one_off['one_off_s'] * 1000:.0f} ms, and "
            f"{one_off['per_step_s'] * 1e6:.0f} µs per step, from its own time (median) on the same CNN at "
            f"{steps[short]} steps ({own[short] * 1000:.0f} ms, {short}) and {steps[long]} steps "
            f"({own[long] * 1000:.0f} ms, {long}), taken as one-off + steps x per-step.")


def _interval_sentence(scram: dict) -> str:
    total, net = scram["ratio_total_ci95"], scram["ratio_net_ci95"]
    return (f"SCRAM's median ratio, 95% bootstrap interval over the repeats: total {total[0]:.3f}–{total[1]:.3f}, "
            f"net {net[0]:.3f}–{net[1]:.3f}. Costs inside an interval cannot be told apart by this run.")


def aftereffect_paragraph(after: dict) -> str:
    """Whether SCRAM's per-step hook slows the training's own next step."""
    return (f"**Does SCRAM's hook slow the training's own steps?** In {after['fits']} fits of the "
            f"`{after['workload']}` workload ({after['epochs']} epochs), SCRAM's batch hook ran after every "
            f"other step only, and each training step was timed from the end of the previous step's callbacks. "
            f"Median step after SCRAM's hook: {after['after_hook_s'] * 1e6:.0f} us; after none: "
            f"{after['after_none_s'] * 1e6:.0f} us; ratio {after['ratio']:.3f} "
            f"({after['ratio_q1']:.3f}–{after['ratio_q3']:.3f} over the fits). The two kinds of step alternate "
            "within one fit, so the machine's load cancels out: a ratio near 1 means SCRAM's cost is its own "
            "time (the 'own' column), and the spread of the whole-fit ratios below is the machine's noise.")


def _ratio(config: dict, kind: str) -> str:
    if f"ratio_{kind}" not in config:
        return "–"
    low, high = config.get(f"ratio_{kind}_q1"), config.get(f"ratio_{kind}_q3")
    spread = f" ({low:.2f}–{high:.2f})" if low is not None and high is not None else ""
    return f"{config[f'ratio_{kind}']:.3f}{spread}"


def scale_section(scale: dict) -> str:
    """Issue #21: a 1,000-run sweep and a 1,000,000-step run: `scram report`, routes, memory, the panel."""
    sizes, loaders = scale["sizes"], scale["loaders"]
    parts = ["## Scale", "",
             f"One logdir: {sizes['sweep_runs']:,} generated sweep runs (written the way the callback writes, "
             f"{scale['write_sweep_s']:.0f} s), {sizes['real_fits']} real tiny Keras fits with `ScramCallback` "
             f"({scale['real_fits_s']:.0f} s), and one run of {sizes['long_steps']:,} steps with "
             f"{sizes['long_diagnostics']:,} diagnostics ({scale['long_event_mib']:.1f} MiB of event files). "
             f"`python -m bench scale` ({scale['seconds']:.0f} s).", "", "### `scram report` over the whole logdir",
             "", f"A new process each time, median of repeats; target < {scale['target_report_s']:.0f} s.", ""]
    parts += [table(["command", "median (s)", "worst (s)", "lines"], [
        [f"`scram {label}`", f"{c['median_s']:.2f}", f"{c['max_s']:.2f}", f"{c['lines']:,}"]
        for label, c in scale["cli"].items()
    ]), "", "### Routes of a real `tensorboard`", "",
        f"Median (worst) ms of {sizes['repeats']} requests once TensorBoard has loaded every run and the plugin "
        f"has decoded them; target < {scale['target_ms']:.0f} ms. A fresh plugin's first `runs` request decodes "
        f"every run once: {scale['first_runs']['first_ms']:,.0f} ms in-process on the Python loader, then "
        f"{scale['first_runs']['next_ms']:.0f} ms (only runs that changed are decoded again).", ""]
    parts += [table(["loader", "load (s)", "TensorBoard's memory (MiB, RSS)"], [
        [lo["flags"], f"{lo['load_s']:.1f}", f"{lo['resident_mib']:.0f}"] for lo in loaders
    ]), ""]
    labels = list(loaders[0]["routes"])
    parts += [table(["route", *(f"{lo['flags']} ms" for lo in loaders), "response bytes", "under target"], [
        [label, *(_route_cell(lo["routes"][label]) for lo in loaders), f"{loaders[0]['routes'][label]['bytes']:,}",
         "✔" if all(lo["routes"][label]["median_ms"] < scale["target_ms"] for lo in loaders) else "✘"]
        for label in labels
    ]), "", _long_run_paragraph(scale), "", _panel_paragraph(scale)]
    return "\n".join(parts)


def _long_run_paragraph(scale: dict) -> str:
    memory, points = scale["memory"], scale["loaders"][0]["long_series_points"]
    curves = ", ".join(f"{name} {count:,}" for name, count in points.items())
    return (f"**The long run.** Its series route sends at most about 2,000 points per curve ({curves}), keeping "
            "every point at a diagnostic's step, the first and last, and each bucket's lowest and highest. "
            f"The plugin's memory for it (tracemalloc, Python loader): {memory['kept_mib']:.1f} MiB kept after "
            f"serving its routes, {memory['peak_mib']:.1f} MiB at the peak while decoding. TensorBoard itself keeps "
            "every SCRAM event (the scram plugin's `samples_per_plugin` is 0, all), in memory about the size of the "
            "event files (its resident memory is in the table above).")


def _panel_paragraph(scale: dict) -> str:
    panel = scale["loaders"][0].get("panel", {})
    if "runs_list_ms" not in panel:
        return f"**The panel** was not timed: {panel.get('skipped', 'no measurement')}."
    own = (f" ({panel['panel_runs_list_ms']:.0f} ms of it the panel's own: its bundle, the runs route, the first "
           "render)") if "panel_runs_list_ms" in panel else ""
    timeline = (f"; the long run's timeline {panel['timeline_ms']:.0f} ms after a click"
                if "timeline_ms" in panel else "")
    return (f"**The panel** (headless Chromium, median of 3 fresh opens): runs list rendered "
            f"{panel['runs_list_ms']:.0f} ms after the SCRAM tab is opened, TensorBoard's own page load "
            f"included{own}{timeline}; target < {scale['target_panel_ms']:.0f} ms.")


def _route_cell(route: dict) -> str:
    return f"{route['median_ms']:.0f} ({route['max_ms']:.0f})"


def sweep_section(sweep: dict) -> str:
    """Alarms on healthy setups, per seed."""
    runs = [run for setup in sweep["setups"] for run in setup["runs"] if "error" not in run]
    false = _falsely_alarmed(sweep)
    lines = ["## Healthy sweep", "",
             f"{len(sweep['setups'])} common, working Keras setups, each trained with seeds "
             f"{', '.join(str(s) for s in sweep['seeds'])} ({sum(r['seconds'] for r in runs):.0f} s). Every warning "
             "or error is a false alarm unless the setup tolerates that check for the reason it gives.", "",
             f"**Runs with a false alarm: {len(false)} of {len(runs)}.**", ""]
    rows = [(setup["name"], setup["description"], *(_sweep_cell(run) for run in setup["runs"]))
            for setup in sweep["setups"]]
    lines.append(table(["setup", "what", *(f"seed {s}" for s in sweep["seeds"])], rows))
    return "\n".join(lines)


def _falsely_alarmed(sweep: dict) -> list[dict]:
    """The sweep's runs with a warning or error their setup does not tolerate."""
    return [run for setup in sweep["setups"] for run in setup["runs"] if any(not a["tolerated"] for a in run["alarms"])]


def _sweep_figure(sweep: dict | None) -> str:
    if sweep is None:
        return "not run"
    runs = sum(1 for setup in sweep["setups"] for run in setup["runs"] if "error" not in run)
    false = _falsely_alarmed(sweep)
    names = sorted({setup["name"] for setup in sweep["setups"] for run in setup["runs"] if run in false})
    return f"{len(false)}/{runs}" + (f" ({', '.join(names)})" if names else "")


def _sweep_cell(run: dict) -> str:
    if "error" in run:
        return f"cannot train on this backend ({run['error']})"
    if not run["alarms"]:
        return "quiet"
    return ", ".join(f"{'' if a['tolerated'] else '⚠ '}{a['check']} @{a['step']}"
                     + (" (tolerated)" if a["tolerated"] else "") for a in run["alarms"])


OTHER_BACKENDS = ("jax", "torch")


def backends_section(results: dict) -> str:
    """The fault zoo's SCRAM figures per Keras backend, side by side (`python -m bench zoo --backend jax`)."""
    rows = []
    for backend, key in (("tensorflow", "zoo"), *((b, f"zoo_{b}") for b in OTHER_BACKENDS)):
        if key not in results:
            continue
        zoo = results[key]
        s = next(summary for summary in zoo["summary"] if summary["detector"] == "scram")
        missed = [sc["name"] for sc in zoo["scenarios"] if sc["expected"] and not sc["detectors"]["scram"]["detected"]]
        sweep = results.get("sweep" if backend == "tensorflow" else f"sweep_{backend}")
        not_run = ", ".join(entry["name"] for entry in zoo.get("not_run", ())) or "–"
        overhead = results.get("overhead" if backend == "tensorflow" else f"overhead_{backend}")
        rows.append([backend, f"{s['detected']}/{s['faulty']} = {s['recall']:.2f}", _precision(s),
                     f"{len(s['healthy_with_alarms'])}/{s['healthy']}", _sweep_figure(sweep),
                     _num(s["median_delay_steps"], 1), ", ".join(missed) or "–", not_run, _cost_figure(overhead),
                     f"{zoo['seconds']:.0f}"])
    return "\n".join(["## Keras backends side by side", "",
                      "The fault zoo trained on each Keras backend (`python -m bench zoo --backend jax`). The same "
                      "jobs and seeds; each backend's own initialisation and numerics make the runs differ. The "
                      "healthy sweep too (`python -m bench sweep --backend jax`): runs with a false alarm. "
                      "Not run: programs written for TensorFlow alone (a `train_step` with `tf.GradientTape`, a "
                      "`tf.nn` activation), which Keras cannot train on that backend, with SCRAM or without. Cost: "
                      "`python -m bench overhead --backend jax`, paired wall-clock ratio over plain `fit()`.", "",
                      table(["backend", "recall", "precision", "healthy zoo jobs with false alarms",
                             "healthy sweep runs with false alarms", "median delay (steps)", "missed",
                             "not run (TensorFlow programs)", "cost: 768-step CNN (SCRAM's own)", "s (zoo)"],
                            rows)])


def _cost_figure(overhead: dict | None, workload: str = "cnn") -> str:
    """`1.059x (own 3.4%)`: SCRAM over plain fit() on one workload, or `not run`."""
    run = next((w for w in (overhead or {}).get("workloads", ()) if w["workload"] == workload), None)
    if run is None or "scram" not in run["configs"]:
        return "not run"
    scram = run["configs"]["scram"]
    return f"{scram['ratio_total']:.3f}x (own {scram['scram_own_share']:.1%})"


def pytorch_section(runs: list[dict]) -> str:
    """The PyTorch zoo's figures (`python -m bench.zoo_torch --json bench/results_torch.json`): one row a run."""
    faulty = [r for r in runs if r["faulty"]]
    healthy = [r for r in runs if not r["faulty"]]
    alarmed = [r for r in faulty if r["alarms"]]
    found = sum(r["found"] for r in faulty)
    missed = [r["scenario"] for r in faulty if not r["found"]]
    summary = [["PyTorch (ScramMonitor / Lightning)", f"{found}/{len(faulty)} = {found / max(len(faulty), 1):.2f}",
                f"{sum(not r['off_target'] for r in alarmed)}/{len(alarmed)}",
                f"{sum(bool(r['alarms']) for r in healthy)}/{len(healthy)}", ", ".join(missed) or "–",
                f"{sum(r['seconds'] for r in runs):.0f}"]]
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    return "\n".join([
        "## PyTorch: ScramMonitor and Lightning", "",
        "The PyTorch zoo (`bench/zoo_torch.py`): tiny labelled jobs written as plain PyTorch loops under "
        "`ScramMonitor`, and a LightningModule under `ScramLightningCallback`; faulty jobs with seed 0, healthy "
        "ones with several seeds (the sweep). Its jobs are not the Keras zoo's, so its figures stand beside the "
        "table above, not in it. Recall: faulty jobs where an expected check was raised as a warning or error; "
        "off-target: an alarm neither expected nor tolerated; on a healthy job every warning or error is a false "
        "alarm. `python -m bench.zoo_torch --json bench/results_torch.json`, then `python -m bench --report`.", "",
        table(["framework", "recall", "faulty runs with no off-target alarm", "healthy runs with a false alarm",
               "missed", "s"], summary), "",
        table(["scenario", "kind", "outcome"],
              [[name, "faulty" if _runs_of(runs, name)[0]["faulty"] else "healthy",
                _pytorch_outcome(_runs_of(runs, name))] for name in scenarios]),
    ])


def _runs_of(runs: list[dict], scenario: str) -> list[dict]:
    return [r for r in runs if r["scenario"] == scenario]


def _pytorch_outcome(runs: list[dict]) -> str:
    """`✔ found; also: ...` for a faulty job, `quiet (seeds 0, 1, 2)` or the alarms per seed for a healthy one."""
    if runs[0]["faulty"]:
        run = runs[0]
        off = run["off_target"]
        also = [c for c in run["alarms"] if c not in off]
        return (("✔ found" if run["found"] else "✘ missed") + (f"; raised: {', '.join(also)}" if also else "")
                + (f"; off-target: {', '.join(off)}" if off else ""))
    alarms = [f"⚠ seed {r['seed']}: {', '.join(r['alarms'])}" for r in runs if r["alarms"]]
    return "; ".join(alarms) or f"quiet (seeds {', '.join(str(r['seed']) for r in runs)})"


def render(results: dict, pytorch: list[dict] | None = None) -> str:
    """The whole results.md; `pytorch`: the PyTorch zoo's runs (bench/results_torch.json), if any."""
    parts = ["# SCRAM benchmarks", "", "Written by `make bench` (`python -m bench`); parts: `python -m bench zoo`, "
             "`python -m bench overhead`, `python -m bench scale`, `python -m bench sweep`, add `--quick` for a "
             "short run. Raw numbers: "
             "`bench/results.json`.", "", machine_section(results["machine"])]
    if "total_s" in results:
        parts += ["", f"Total runtime of the last full run: {results['total_s']:.0f} s."]
    if any(f"zoo_{backend}" in results for backend in OTHER_BACKENDS):
        parts += ["", backends_section(results)]
    if pytorch:
        parts += ["", pytorch_section(pytorch)]
    sections = (("zoo", zoo_section), ("overhead", overhead_section), ("scale", scale_section),
                ("sweep", sweep_section))
    for key, render_section in sections:
        if key in results:
            parts += ["", render_section(results[key])]
            if results.get("quick", {}).get(key):
                parts += ["", "_Quick mode: fewer scenarios, repeats or diagnostics than the full run._"]
    return "\n".join(parts) + "\n"
