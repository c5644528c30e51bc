import socket,time,threading,subprocess,os
PID=int(open('/tmp/qa15/qa/sc.pid').read())
T0=None
def log(*a): print('%.2f'%(time.time()-T0), *a, flush=True)
def req(port, path, name, delay=0):
    time.sleep(delay)
    try:
        s=socket.create_connection(('127.0.0.1',port)); s.settimeout(20)
        s.sendall(b'GET %s HTTP/1.1\r\nHost: svc\r\n\r\n'%path.encode()); out=b''
        while True:
            d=s.recv(65536)
            if not d: break
            out+=d
            if out.endswith(b'slow') or b'len=0\n' in out: break
        hdr=[l for l in out.split(b'\r\n') if l.lower().startswith(b'connection') or l.startswith(b'HTTP')]
        # check whether closed after
        s.settimeout(0.5)
        try: fin = s.recv(10)==b''
        except socket.timeout: fin=False
        log(name, hdr, 'closed-after' if fin else 'kept-open')
    except Exception as e: log(name, 'ERR', repr(e))
def idle(port,name):
    s=socket.create_connection(('127.0.0.1',port)); s.sendall(b'GET /x HTTP/1.1\r\nHost: svc\r\n\r\n'); time.sleep(0.2); s.recv(65536)
    s.settimeout(20); t=time.time()
    try: d=s.recv(10); log(name,'idle conn got',d, 'after %.2f'%(time.time()-t))
    except Exception as e: log(name,'idle ERR',repr(e))
T0=time.time()
ths=[threading.Thread(target=idle,args=(25006,'idle-in')), threading.Thread(target=idle,args=(25001,'idle-out'))]
for t in ths: t.start()
time.sleep(0.5)
ths=[threading.Thread(target=req,args=(25006,'/slow=3','inflight-in')), threading.Thread(target=req,args=(25001,'/slow=3','inflight-out')),
     threading.Thread(target=req,args=(25001,'/slow=8','inflight-out-long'))]
for t in ths: t.start()
time.sleep(0.5)
T0s=time.time(); os.kill(PID,15); log('SIGTERM sent')
for d,port,n in [(0.3,25006,'new-in@0.3'),(0.3,25001,'new-out@0.3'),(1.5,25006,'new-in@1.5'),(1.5,25001,'new-out@1.5'),(5.0,25001,'new-out@5.0')]:
    threading.Thread(target=req,args=(port,'/x',n,d)).start()
while True:
    try: os.kill(PID,0)
    except ProcessLookupError: log('process gone'); break
    time.sleep(0.05)
