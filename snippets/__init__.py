"""Example code of PyTorch Primer: one module per page (tensors.py for docs/tensors.md), cut into named
`--8<--` sections that the pages embed, plus shared pieces used by several pages."""
