"""aisre.sim"""
