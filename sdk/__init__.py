"""magistrate.sdk"""
