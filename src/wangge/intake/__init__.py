"""Intake of hotline, counter, letter and video reports: caller, 12345 work order, camera, 回访."""
