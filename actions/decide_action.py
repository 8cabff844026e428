from lib.aisre_st2 import AisreAction


class DecideAction(AisreAction):
    def run(self, incident_id):
        return self.respond(self.runtime.decide, incident_id)
