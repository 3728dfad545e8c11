"""``croton.build_tools``: toolchain discovery, the on-disk cache, and the CMake + Ninja driver."""
