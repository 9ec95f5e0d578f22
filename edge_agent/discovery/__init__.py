"""Onboarding by discovery: a server browsed once, a reviewable draft of the plant, tags and configs."""
