"""``croton.codegen``: passes over ``Graph``, lowering to a frozen plan, and rendering C++."""
