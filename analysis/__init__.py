"""analysis: DWP/TWP catalogues -> distributions -> etm predictions -> report."""
