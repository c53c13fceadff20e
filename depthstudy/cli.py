"""Command line: ``depthstudy run | train | studies | data | bench | profiles``.

    depthstudy run --profile cpu [--jobs 2] [--only 01_datasets ...] [--extended] [-p key=value ...]
    depthstudy train loss_comparison l1 --profile smoke --seed 0 [--steps K]   # one run, its metric row
    depthstudy studies                           # the studies, their notebooks, upstream and variants
    depthstudy data synth --profile cpu          # pre-generate SynthRooms into the cache
    depthstudy data verify nyuv2 --root DIR      # presence, sizes, sha256 against data_manifests/
    depthstudy data fetch nyuv2 --root DIR       # download (resumable) and verify
    depthstudy bench [--only synth loader ...]   # speed figures -> results/bench/<device>.json
    depthstudy profiles                          # list the profiles and their settings
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _run(args: argparse.Namespace) -> int:
    from . import runner

    params = runner.parse_params(args.param or [])
    try:
        runs = runner.run(args.profile, args.only, params, execution_timeout=args.timeout, jobs=args.jobs,
                          extended=args.extended)
    except KeyboardInterrupt:
        print("\ndepthstudy run: interrupted. Notebooks that finished kept their executed copies and results; "
              "an interrupted study keeps its previous complete results (rerun to finish it).", file=sys.stderr)
        return 130
    print()
    print(runner.format_summary(runs))
    return 0 if runs and all(r.status == "ok" for r in runs) else 1


def _data_synth(args: argparse.Namespace) -> int:
    from .data import synthrooms
    from .profiles import get_profile

    prof = get_profile(args.profile)
    if prof.dataset != "synthrooms":
        raise ValueError(f"profile {prof.name!r} uses dataset {prof.dataset!r}, not synthrooms")
    for path in synthrooms.pregenerate(progress=True, **prof.synthrooms_options()):
        print(path)
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from .data import manifest

    return manifest.cli_verify(args.dataset, args.root, checksums=not args.no_checksums)


def _data_fetch(args: argparse.Namespace) -> int:
    from .data import manifest

    return manifest.cli_fetch(args.dataset, args.root, checksums=not args.no_checksums)


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    report = bench.run_from_args(args)
    print(bench.format_report(report))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .profiles import get_profile
    from .studies import specs

    prof = get_profile(args.profile, **({"steps": args.steps} if args.steps else {}))
    rows = specs.train_variant(args.study, args.variant, prof, args.seed)
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    return 0


def _studies(args: argparse.Namespace) -> int:
    from .studies import specs

    print(specs.describe().to_string(index=False))
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from .profiles import PROFILES

    for prof in PROFILES.values():
        print(f"{prof.name:6s} {prof.dataset:10s} {prof.height}x{prof.width} resnet{prof.backbone_depth}"
              f"x{prof.backbone_width:g} steps={prof.steps} seeds={list(prof.seeds)}  {prof.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``depthstudy`` argument parser."""
    from .profiles import profile_names

    parser = argparse.ArgumentParser(prog="depthstudy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="execute the study notebooks with papermill")
    p.add_argument("--profile", required=True, help=f"one of {', '.join(profile_names())}")
    p.add_argument("--only", nargs="+", metavar="NAME", help="notebook names (e.g. 01_datasets or datasets)")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="notebook parameter")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    p.add_argument("--jobs", type=int, default=1,
                   help="notebooks run at once, each with cpu_count/jobs threads (default 1)")
    p.add_argument("--extended", action="store_true",
                   help="without --only, also run the extended studies (notebooks marked extended, e.g. 15)")
    p.set_defaults(func=_run)

    t = sub.add_parser("train", help="train (or reuse) one run of a study and print its metric row")
    t.add_argument("study", help="a study name (see `depthstudy studies`)")
    t.add_argument("variant", help="one of the study's variants")
    t.add_argument("--profile", required=True, help=f"one of {', '.join(profile_names())}")
    t.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    t.add_argument("--steps", type=int, default=None, help="training iterations (default: the profile's)")
    t.set_defaults(func=_train)

    st = sub.add_parser("studies", help="list the studies and their variants")
    st.set_defaults(func=_studies)

    d = sub.add_parser("data", help="datasets: pre-generate, verify, fetch")
    dsub = d.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="pre-generate SynthRooms for a profile")
    s.add_argument("--profile", default="cpu")
    s.set_defaults(func=_data_synth)
    for name, func, text in (("verify", _data_verify, "check files against the manifest"),
                             ("fetch", _data_fetch, "download and verify")):
        q = dsub.add_parser(name, help=text)
        q.add_argument("dataset", help="manifest name, e.g. nyuv2")
        q.add_argument("--root", required=True, help="dataset folder")
        q.add_argument("--no-checksums", action="store_true", help="skip sha256 (sizes still checked)")
        q.set_defaults(func=func)

    b = sub.add_parser("bench", help="measure speed; writes results/bench/<device>.json")
    b.add_argument("--only", nargs="+", metavar="NAME", help="benchmark names")
    b.add_argument("--device", default="auto")
    b.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke check")
    b.add_argument("--sizes", default=None, metavar="NAME", help="paper (default) or a profile name")
    b.add_argument("--variants", nargs="+", metavar="NAME",
                   help="eager fast channels_last bf16 compile (default: eager fast)")
    b.add_argument("--no-compile", action="store_true", help="leave torch.compile out of every variant")
    b.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    b.add_argument("--gemm-size", type=int, default=None, metavar="N",
                   help="side of the fp32 GEMM reference (default: 1024 on the CPU, 8192 on CUDA)")
    b.set_defaults(func=_bench)

    r = sub.add_parser("profiles", help="list the profiles")
    r.set_defaults(func=_profiles)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``depthstudy`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"depthstudy: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
