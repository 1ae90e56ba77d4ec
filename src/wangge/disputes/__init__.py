"""Disputes (矛盾纠纷): registration in a grid, parties, mediation sessions, outcome, follow-up."""
