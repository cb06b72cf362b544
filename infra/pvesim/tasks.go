package pvesim

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// task is a finished-on-schedule worker. Power actions change guest state
// immediately; the task only reports "running" for Config.TaskDuration.
type task struct {
	upid    string
	node    string
	typ     string
	id      string
	user    string // user@realm
	tokenid string
	pid     int64
	pstart  int64
	start   time.Time
	end     time.Time
	// exit is the exit status once stopped: "OK", or the worker's die
	// message (PVE::RESTEnvironment fork_worker writes "TASK ERROR: <msg>"
	// to the log and <msg> becomes exitstatus).
	exit string
}

// UPIDs follow PVE: UPID:node:PID:PSTART:STARTTIME:type:id:authid: with
// 8-digit uppercase hex fields. PID/PSTART come from a counter so tests get
// predictable values (first task: PID 0000C0DE, PSTART 0001E240).
func (s *Sim) newTask(node, typ, id string, who identity) *task {
	now := s.cfg.Clock()
	t := &task{
		node: node, typ: typ, id: id, user: who.user, tokenid: who.tokenName,
		pid:    0xC0DE + int64(s.taskSeq),
		pstart: 0x1E240 + int64(s.taskSeq),
		start:  now,
		end:    now.Add(s.cfg.TaskDuration),
		exit:   "OK",
	}
	s.taskSeq++
	t.upid = fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, t.pid, t.pstart, now.Unix(), typ, id, who.authID())
	s.tasks[t.upid] = t
	s.taskOrder = append(s.taskOrder, t.upid)
	return t
}

func (t *task) running(now time.Time) bool { return now.Before(t.end) }

func (t *task) statusData(now time.Time) map[string]any {
	e := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
		"starttime": t.start.Unix(), "type": t.typ, "id": t.id, "user": t.user,
	}
	if t.tokenid != "" {
		e["tokenid"] = t.tokenid
	}
	if t.running(now) {
		e["status"] = "running"
	} else {
		e["status"] = "stopped"
		e["exitstatus"] = t.exit
	}
	return e
}

// listData is the shape of /cluster/tasks and /nodes/{node}/tasks entries,
// where "status" is the exit status once finished.
func (t *task) listData(now time.Time) map[string]any {
	e := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
		"starttime": t.start.Unix(), "type": t.typ, "id": t.id, "user": t.user,
	}
	if t.tokenid != "" {
		e["tokenid"] = t.tokenid
	}
	if !t.running(now) {
		e["endtime"] = t.end.Unix()
		e["status"] = t.exit
	}
	return e
}

// failTask ends t at once with the worker's error: the checks that fail a
// power action inside the worker run in its first milliseconds.
func (t *task) fail(msg string) {
	t.end, t.exit = t.start, msg
}

// validUPID checks the UPID syntax PVE's parser accepts.
func validUPID(upid string) bool {
	f := strings.Split(upid, ":")
	if len(f) != 9 || f[0] != "UPID" || f[8] != "" {
		return false
	}
	for _, h := range f[2:5] {
		if _, err := strconv.ParseUint(h, 16, 64); err != nil || len(h) < 8 {
			return false
		}
	}
	return f[1] != "" && f[5] != "" && f[7] != ""
}

func (s *Sim) hTask(node, upid, what string) (response, *apiError) {
	if !validUPID(upid) {
		return response{}, paramErr("upid", fmt.Sprintf("unable to parse worker upid '%s'", upid))
	}
	t, ok := s.tasks[upid]
	if !ok || t.node != node {
		f := strings.Split(upid, ":")
		return response{}, errf(500, "unable to open file '/var/log/pve/tasks/%s/%s' - No such file or directory",
			f[4][len(f[4])-1:], upid)
	}
	now := s.cfg.Clock()
	if what == "status" {
		return response{data: t.statusData(now)}, nil
	}
	lines := []map[string]any{}
	if !t.running(now) {
		if t.exit == "OK" {
			lines = append(lines, map[string]any{"n": 1, "t": "TASK OK"})
		} else {
			lines = append(lines, map[string]any{"n": 1, "t": "TASK ERROR: " + t.exit})
		}
	}
	return response{data: lines, total: len(lines)}, nil
}

func (s *Sim) taskList(node string) []map[string]any {
	now := s.cfg.Clock()
	out := []map[string]any{}
	for i := len(s.taskOrder) - 1; i >= 0; i-- { // newest first
		t := s.tasks[s.taskOrder[i]]
		if node == "" || t.node == node {
			out = append(out, t.listData(now))
		}
	}
	return out
}

func (s *Sim) hClusterTasks(identity, url.Values) (response, *apiError) {
	return response{data: s.taskList("")}, nil
}

func (s *Sim) hNodeTasks(node string) (response, *apiError) {
	l := s.taskList(node)
	return response{data: l, total: len(l)}, nil
}
