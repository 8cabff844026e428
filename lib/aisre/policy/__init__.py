"""aisre.policy"""
