"""The record path's modules as they were before their hot paths were specialised (commit 351f1a4),
kept verbatim as the oracle of the differential tests: the fast code must give exactly what
this straightforward code gives, row for row and reason for reason."""
