"""Fault injection: break nodes, components and networks on purpose, and always heal.

A fault is one reversible change to a cluster (a paused node, a stopped one, ...). The
runner injects it, records it in the cluster as a ConfigMap in ``kube-system`` (so another
``ku7s`` process can list and recover it, and a crashed run's leftovers are found), posts an
Event on what it hit, waits for the fault's duration, and reverts it: at the end of the
duration, on Ctrl-C, or on ``ku7s chaos recover``.

    duration.py    "30s", "1m30s", "500ms"
    selection.py   which targets: by name, by label, one / all / fixed N / fixed percent,
                   at random with a seed the report prints
    ledger.py      the fault records kept in the cluster
    runner.py      inject, record, wait, revert
    faults/        one module per family of faults
"""
