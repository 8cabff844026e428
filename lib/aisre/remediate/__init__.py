"""aisre.remediate"""
