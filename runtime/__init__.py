"""C++ runtime headers (header-only); shipped as package data, not Python code."""
