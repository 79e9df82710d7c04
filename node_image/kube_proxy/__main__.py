"""kube-proxy entry point."""

from ku7s.placeholder import idle

if __name__ == "__main__":
    idle("kube-proxy", "issue 5")
