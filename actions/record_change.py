from lib.aisre_st2 import AisreAction


class RecordChange(AisreAction):
    def run(self, change):
        return self.respond(self.runtime.record_change, change)
