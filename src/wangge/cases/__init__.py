"""Cases (案卷): the closed loop from report to evaluation, and its clocks.

`workflow` holds the transitions table and `apply`; `deadlines` the working-time calendar.
Both are pure; storage and the API live in later modules of this package.
"""
