"""Creating a cluster as a list of steps (kind's create actions): each takes the shared
CreateContext, does one thing and records what later steps need; adding a node reuses the
steps that start node containers and wait for them."""
