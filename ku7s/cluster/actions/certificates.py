"""The cluster's CA, its certificates and bootstrap token, and the node containers' specs
that carry them."""

from __future__ import annotations

from ku7s import kubeconfig
from ku7s.cluster.access import external_server
from ku7s.cluster.actions.context import CreateContext
from ku7s.cluster.node_specs import ClusterSecrets, control_plane_spec, worker_spec
from ku7s.names import worker_name


def prepare_certificates(ctx: CreateContext) -> None:
    config, name = ctx.config, ctx.config.name
    with ctx.progress.step("Preparing certificates"):
        secrets = ctx.secrets = ClusterSecrets.create(name, config.service_subnet)
    ctx.nodes = [control_plane_spec(config, secrets, ctx.image, ctx.port)] + [
        worker_spec(name, worker_name(name, i), node, ctx.image, secrets.ca.cert_pem,
                    secrets.token)
        for i, node in enumerate(config.workers, start=1)
    ]  # fmt: skip
    ctx.entry = kubeconfig.render(name, external_server(ctx.port), secrets.ca.cert_pem,
                                  secrets.admin.cert_pem, secrets.admin.key_pem)  # fmt: skip
