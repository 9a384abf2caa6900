"""Potential-energy-landscape tools for any JAX energy of positions (N, d).

- :mod:`.neb` CI-NEB (improved tangent, climbing image, energy-weighted springs, FIRE; vmapped
  images and batched pairs)
- :mod:`.saddle` hybrid eigenvector following: saddle refinement and single-ended searches
- :mod:`.connect` elementary steps between minima (NEB + refinement + verification)
- :mod:`.identity` identity of minima (documented tolerances)
- :mod:`.valleys` intra-basin valley exploration (seed paper §8)
- :mod:`.search` IS-pair discovery, single-ended searches, the per-glass driver
- :mod:`.catalogue` HDF5 catalogue of minima/saddles/DWPs/TWPs with a networkx graph
- :mod:`.twp` DWP geometry and the 3-level Hamiltonian of seed Eq. 5
- :mod:`.disconnectivity` disconnectivity graph of a catalogue
- :mod:`.surfaces` analytic test surfaces (Mueller-Brown, three-well, quartic double well)
"""
