"""kube-scheduler entry point."""

from ku7s.placeholder import idle

if __name__ == "__main__":
    idle("kube-scheduler", "issue 4")
