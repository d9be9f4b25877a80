-- wrk script: every request creates a new project with a name unique to the thread.
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"p%d-%d"}', tid, counter)
  return wrk.format("POST", "/api/v1/workspaces/bench/projects", nil, body)
end
