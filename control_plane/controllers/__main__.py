"""kube-controller-manager entry point."""

from ku7s.placeholder import idle

if __name__ == "__main__":
    idle("kube-controller-manager", "issue 4")
