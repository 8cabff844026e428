"""aisre.correlate"""
