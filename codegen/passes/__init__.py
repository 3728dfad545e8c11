"""One pass per module, each a pure ``Graph -> Graph``; ``codegen.pipeline`` orders them."""
