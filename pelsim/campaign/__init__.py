"""Campaigns: TOML definitions (:mod:`.config`), the Dask runner with atomic results and
resume (:mod:`.runner`, :mod:`.store`) and the stage functions that call the engine and the
landscape searches (:mod:`.stages`). See docs/campaigns.md."""
