"""Notifications (通知): where case messages go beyond the in-app inbox, and their delivery.

`cases.notify` decides who hears of an action (a department, the county centre, a person) and
writes in-app messages to the outbox; `routing` copies the five kinds the centre's day runs on
(派遣, 预警, 超期, 督办, 退回) to the group robots and SMS numbers configured for that recipient;
`robots` and `sms` speak the 企业微信, 钉钉 and SMS gateway formats; `worker` delivers the
outbox inside every server process, one process at a time; `service` keeps the routes and the
dead letters.
"""
