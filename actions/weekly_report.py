from lib.aisre_st2 import AisreAction


class WeeklyReport(AisreAction):
    def run(self, days=7):
        return self.respond(self.runtime.weekly, days)
