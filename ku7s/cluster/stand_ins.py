"""Offline stand-ins for the images everyone's examples use, built from Debian packages.

No registry can be reached, so `busybox`, `nginx` and `python` are made from Debian's
packages: each keeps just its program, the shared libraries it links and its data, on a
busybox shell. They carry the upstream names, so manifests from tutorials run unchanged.
busybox and nginx are small and preloaded on every node; python is built when first loaded
(`ku7s load image python:3`).

busybox is Debian trixie's busybox-static: bookworm's is built without wget's timeout, so
`wget -T 5`, which tutorials and scripts use all the time, crashed it; trixie's behaves as
the upstream image's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ku7s.cluster.debian_packages import DebianFile

#: Copies a program and the libraries ldd finds for it under /out (a shell helper).
_COLLECT = (
    'collect() { for f in "$@" $(ldd "$@" 2>/dev/null | awk \'/=> \\// {print $3} '
    '/^\\t\\/lib/ {print $1}\' | sort -u); do cp --parents -L "$f" /out/; done; }'
)


@dataclass(frozen=True)
class StandIn:
    name: str
    tags: tuple[str, ...]
    #: A Dockerfile; BASE_IMAGE (Debian, with the packages) and BUSYBOX_IMAGE are given.
    recipe: str
    preloaded: bool
    #: Files taken from Debian packages into the build context, by the name given here.
    debian_files: tuple[tuple[str, DebianFile], ...] = ()


BUSYBOX = StandIn(
    "busybox",
    ("docker.io/library/busybox:latest",),
    "FROM scratch\n"
    "COPY busybox /bin/busybox\n"
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    # The directories and accounts the upstream image has, which scripts and `kubectl cp`
    # (tar into /tmp) expect.
    'RUN ["/bin/sh", "-c", "mkdir -p /tmp /root /home /etc /var/www /usr/sbin && chmod 1777 '
    "/tmp && printf 'root:x:0:0:root:/root:/bin/sh\\\\nnobody:x:65534:65534:nobody:/home:"
    "/bin/false\\\\n' > /etc/passwd && printf 'root:x:0:\\\\nnogroup:x:65534:\\\\n' > "
    '/etc/group"]\n'
    'CMD ["sh"]\n',
    preloaded=True,
    debian_files=(("busybox", DebianFile("trixie", "busybox-static", "/usr/bin/busybox")),),
)

NGINX = StandIn(
    "nginx",
    ("docker.io/library/nginx:latest", "docker.io/library/nginx:1.22"),
    "ARG BASE_IMAGE\n"
    "ARG BUSYBOX_IMAGE\n"
    "FROM ${BASE_IMAGE} AS debian\n"
    f"RUN set -e; mkdir /out; {_COLLECT}; collect /usr/sbin/nginx /usr/lib/nginx/modules/*.so; "
    "cp -a --parents /etc/nginx /usr/share/nginx /usr/lib/nginx /out/; "
    "mkdir -p /out/var/lib/nginx /out/var/log/nginx /out/var/cache/nginx /out/run; "
    "ln -sf /dev/stdout /out/var/log/nginx/access.log; "
    "ln -sf /dev/stderr /out/var/log/nginx/error.log; "
    "rm -f /out/etc/nginx/sites-enabled/*; "
    "printf 'server {\\n    listen 80;\\n    listen [::]:80;\\n    server_name localhost;\\n"
    "    location / {\\n        root /usr/share/nginx/html;\\n        index index.html index.htm;"
    "\\n    }\\n}\\n' > /out/etc/nginx/conf.d/default.conf; "
    "grep -E '^(root|www-data|nobody):' /etc/passwd > /out/etc/passwd; "
    "grep -E '^(root|www-data|nogroup):' /etc/group > /out/etc/group\n"
    "FROM ${BUSYBOX_IMAGE}\n"
    "COPY --from=debian /out/ /\n"
    "EXPOSE 80\n"
    "STOPSIGNAL SIGQUIT\n"
    'CMD ["nginx", "-g", "daemon off;"]\n',
    preloaded=True,
)

PYTHON = StandIn(
    "python",
    (
        "docker.io/library/python:3",
        "docker.io/library/python:3.11",
        "docker.io/library/python:latest",
    ),
    "ARG BASE_IMAGE\n"
    "ARG BUSYBOX_IMAGE\n"
    "FROM ${BASE_IMAGE} AS debian\n"
    f"RUN set -e; mkdir /out; {_COLLECT}; "
    "collect /usr/bin/python3.11 /usr/lib/python3.11/lib-dynload/*.so "
    # All of the C library and the C and C++ runtimes, which wheels with compiled parts
    # (pydantic-core) link against, as they find them in the upstream image.
    "$(dpkg -L libc6 libgcc-s1 libstdc++6 | grep -E '/lib[^/]*\\.so[.0-9]*$'); "
    "cp -a --parents /usr/lib/python3.11 /etc/ssl /usr/share/ca-certificates /out/; "
    "rm -rf /out/usr/lib/python3.11/test /out/usr/lib/python3.11/EXTERNALLY-MANAGED; "
    "ln -s python3.11 /out/usr/bin/python3; ln -s python3.11 /out/usr/bin/python\n"
    "FROM ${BUSYBOX_IMAGE}\n"
    "COPY --from=debian /out/ /\n"
    "ENV LANG=C.UTF-8\n"
    'CMD ["python3"]\n',
    preloaded=False,
)

STAND_INS = (BUSYBOX, NGINX, PYTHON)


def normalize(reference: str) -> str:
    """An image reference as containerd names it: docker.io/library/nginx:latest."""
    name, _, digest = reference.partition("@")
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def stand_in_for(reference: str) -> StandIn | None:
    wanted = normalize(reference)
    return next((s for s in STAND_INS if wanted in s.tags), None)
