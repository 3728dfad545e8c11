"""One pass per module, each a pure function ``Graph -> Graph``; ``codegen.pipeline`` orders them."""
