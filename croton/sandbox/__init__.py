"""Theano's ``theano.sandbox`` names that real programs import (``rng_mrg``)."""
