"""pelsim: potential-energy-landscape simulation of model glasses on jax-md.

Units inside pelsim are Lennard-Jones reduced units of the A-A pair
(energy epsilon_AA, length sigma_AA, mass m_A, time sigma sqrt(m/epsilon)).
Conversion to physical units goes through :mod:`pelsim.units`.

Importing pelsim enables float64 in JAX (landscape work needs energy
differences of 1e-6 epsilon and forces of 1e-10) and JAX's persistent
compilation cache (``$PELSIM_JAX_CACHE``, default ``~/.cache/pelsim/jax``); on a process that
sees one core it turns off XLA:CPU's YNN fusions (:func:`pelsim.device.xla_flags_for_cores`).
It forces no platform: JAX uses what it finds (a GPU if a CUDA build is installed);
the CLIs take ``--device cpu|gpu`` and ``JAX_PLATFORMS`` works as usual
(:func:`pelsim.device.select`). MD may still run in float32 by passing float32 arrays explicitly.
"""

import os

import jax

from pelsim.device import xla_flags_for_cores

xla_flags_for_cores()  # a one-core process: no YNN fusions (pelsim.device)
jax.config.update("jax_enable_x64", True)
_cache = os.environ.get("PELSIM_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "pelsim", "jax"))
try:
    os.makedirs(_cache, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
except OSError:  # read-only home: run without the persistent cache
    pass

__version__ = "0.1.0"
